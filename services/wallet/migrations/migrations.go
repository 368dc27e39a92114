// Package migrations is the wallet's schema history: the tables the wallet owns
// (credential, keychain, secret_audit, wallet_key_check), applied by
// `noetl-wallet migrate` or NOETL_AUTO_MIGRATE.
package migrations

import "embed"

import "github.com/noetl/controlplane/shared/pg"

//go:embed *.sql
var files embed.FS

// Set is the wallet's history. Legacy maps the versions of the single history that
// every service shared before (0001_base, 0003_wallet_keychain_expiry,
// 0006_wallet_key_check) to the files here that carry the wallet's part of them.
var Set = pg.MigrationSet{
	Service: "wallet",
	Files:   files,
	Legacy:  map[int]int{1: 1, 3: 2, 6: 3},
}

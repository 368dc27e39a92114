package pg

import "fmt"
import "os"
import "strings"
import "testing"
import "testing/fstest"
import "time"

import "github.com/jackc/pgx/v5"

import "github.com/noetl/controlplane/shared/config"

func validConfig() Config {
	return Config{
		Host: "localhost", Port: 5432, User: "noetl", Database: "noetl",
		MaxConns: 10, MinConns: 1, AcquireTimeout: 30, Schema: "noetl",
	}
}

func TestConfigDefaultsFromEnvironment(t *testing.T) {
	t.Parallel()
	var c Config
	if err := config.LoadFrom(&c, map[string]string{}); err != nil {
		t.Fatalf("LoadFrom: %v", err)
	}
	want := validConfig()
	if c != want {
		t.Errorf("defaults = %+v, want %+v", c, want)
	}
	if c.AutoMigrate {
		t.Error("NOETL_AUTO_MIGRATE defaults to true")
	}
	if c.AcquireTimeoutDuration() != 30*time.Second {
		t.Errorf("AcquireTimeoutDuration = %v", c.AcquireTimeoutDuration())
	}
}

func TestConfigFromEnvironmentErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"POSTGRES_PORT": "abc"}, "POSTGRES_PORT"},
		{map[string]string{"POSTGRES_PORT": "70000"}, "POSTGRES_PORT"},
		{map[string]string{"POSTGRES_MAX_CONNECTIONS": "abc"}, "POSTGRES_MAX_CONNECTIONS"},
		{map[string]string{"POSTGRES_ACQUIRE_TIMEOUT": "30s"}, "POSTGRES_ACQUIRE_TIMEOUT"},
		{map[string]string{"NOETL_AUTO_MIGRATE": "perhaps"}, "NOETL_AUTO_MIGRATE"},
		{map[string]string{"NOETL_SCHEMA": "bad-name"}, "NOETL_SCHEMA"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			var c Config
			err := config.LoadFrom(&c, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadFrom(%v) = %v, want an error naming %s", tc.env, err, tc.want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	const password = "pa55-WORD-xyz"
	tests := []struct {
		name   string
		mutate func(*Config)
		wants  []string // nil: valid
	}{
		{"valid", func(*Config) {}, nil},
		{"schema with underscore and digits", func(c *Config) { c.Schema = "noetl_test_2" }, nil},
		{"mixed-case schema", func(c *Config) { c.Schema = "NoETL" }, nil},
		{"63-char schema", func(c *Config) { c.Schema = strings.Repeat("s", 63) }, nil},
		{"min 0", func(c *Config) { c.MinConns = 0 }, nil},
		{"min = max", func(c *Config) { c.MinConns = 10 }, nil},
		{"valid DATABASE_URL", func(c *Config) { c.DatabaseURL = "postgres://u:p@h:5432/d?sslmode=disable" }, nil},
		{"schema with dash", func(c *Config) { c.Schema = "my-schema" }, []string{"NOETL_SCHEMA", "my-schema"}},
		{"schema with quote", func(c *Config) { c.Schema = `x"; DROP TABLE y; --` }, []string{"NOETL_SCHEMA"}},
		{"schema with dot", func(c *Config) { c.Schema = "a.b" }, []string{"NOETL_SCHEMA"}},
		{"schema starting with digit", func(c *Config) { c.Schema = "1abc" }, []string{"NOETL_SCHEMA"}},
		{"empty schema", func(c *Config) { c.Schema = "" }, []string{"NOETL_SCHEMA"}},
		{"64-char schema", func(c *Config) { c.Schema = strings.Repeat("s", 64) }, []string{"NOETL_SCHEMA"}},
		{"max 0", func(c *Config) { c.MaxConns = 0; c.MinConns = 0 }, []string{"POSTGRES_MAX_CONNECTIONS", ">= 1"}},
		{"min > max", func(c *Config) { c.MinConns = 11 }, []string{"POSTGRES_MIN_CONNECTIONS"}},
		{"min negative", func(c *Config) { c.MinConns = -1 }, []string{"POSTGRES_MIN_CONNECTIONS"}},
		{"acquire timeout 0", func(c *Config) { c.AcquireTimeout = 0 }, []string{"POSTGRES_ACQUIRE_TIMEOUT"}},
		{"invalid DATABASE_URL", func(c *Config) { c.DatabaseURL = config.Secret("postgres://u:" + password + "@h:notaport/d") },
			[]string{"DATABASE_URL", "not a valid"}},
		{"several", func(c *Config) { c.Schema = "a-b"; c.AcquireTimeout = 0 }, []string{"NOETL_SCHEMA", "POSTGRES_ACQUIRE_TIMEOUT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := validConfig()
			tc.mutate(&c)
			err := c.Validate()
			if tc.wants == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate succeeded, want an error")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

func TestConnString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                   string
		mutate                 func(*Config)
		want                   string // exact, "" = only check the parsed fields
		host                   string
		port                   uint16
		user, password, dbname string
	}{
		{"no password", func(*Config) {}, "postgres://noetl@localhost:5432/noetl", "localhost", 5432, "noetl", "", "noetl"},
		{"password", func(c *Config) { c.Password = "pw" }, "postgres://noetl:pw@localhost:5432/noetl", "localhost", 5432, "noetl", "pw", "noetl"},
		{"blank password is no password", func(c *Config) { c.Password = "  " }, "postgres://noetl@localhost:5432/noetl", "localhost", 5432, "noetl", "", "noetl"},
		{"special characters are escaped", func(c *Config) {
			c.User = "svc@corp"
			c.Password = "p@ss:w/rd?#%"
			c.Database = "my db"
		}, "", "localhost", 5432, "svc@corp", "p@ss:w/rd?#%", "my db"},
		{"other host and port", func(c *Config) { c.Host = "db.internal"; c.Port = 6543 }, "postgres://noetl@db.internal:6543/noetl", "db.internal", 6543, "noetl", "", "noetl"},
		{"IPv6 host", func(c *Config) { c.Host = "::1" }, "", "::1", 5432, "noetl", "", "noetl"},
		{"DATABASE_URL wins", func(c *Config) {
			c.Password = "ignored"
			c.DatabaseURL = "postgres://other:secret@10.0.0.9:5433/otherdb?sslmode=disable"
		}, "postgres://other:secret@10.0.0.9:5433/otherdb?sslmode=disable", "10.0.0.9", 5433, "other", "secret", "otherdb"},
		{"blank DATABASE_URL does not win", func(c *Config) { c.DatabaseURL = " " }, "postgres://noetl@localhost:5432/noetl", "localhost", 5432, "noetl", "", "noetl"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := validConfig()
			tc.mutate(&c)
			cs := c.ConnString()
			if tc.want != "" && cs != tc.want {
				t.Errorf("ConnString = %q, want %q", cs, tc.want)
			}
			pc, err := pgx.ParseConfig(cs)
			if err != nil {
				t.Fatalf("ConnString %q does not parse: %v", cs, err)
			}
			if pc.Host != tc.host || pc.Port != tc.port || pc.User != tc.user || pc.Password != tc.password || pc.Database != tc.dbname {
				t.Errorf("parsed %q = host %q port %d user %q password %q db %q; want %q %d %q %q %q",
					cs, pc.Host, pc.Port, pc.User, pc.Password, pc.Database, tc.host, tc.port, tc.user, tc.password, tc.dbname)
			}
		})
	}
}

func TestDescribeNeverContainsPassword(t *testing.T) {
	t.Parallel()
	const password = "Top-Secret-42"
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"fields", func() Config { c := validConfig(); c.Password = password; return c }(), "noetl@localhost:5432/noetl schema=noetl"},
		{"url", validConfig().WithURL("postgres://app:" + password + "@db:6432/prod?sslmode=disable"), "app@db:6432/prod schema=noetl"},
		{"keyword DSN", validConfig().WithURL("host=db port=6432 user=app password=" + password + " dbname=prod sslmode=disable"), "app@db:6432/prod schema=noetl"},
		{"unparseable url", validConfig().WithURL("postgres://app:" + password + "@db:notaport/prod"), "DATABASE_URL (unparseable)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := tc.cfg.Describe()
			if strings.Contains(d, password) {
				t.Errorf("Describe = %q contains the password", d)
			}
			if d != tc.want {
				t.Errorf("Describe = %q, want %q", d, tc.want)
			}
			// Formatting the whole config does not leak it either.
			for _, f := range []string{"%v", "%+v", "%#v"} {
				if s := fmt.Sprintf(f, tc.cfg); strings.Contains(s, password) {
					t.Errorf("%s of the config leaks the password: %s", f, s)
				}
			}
		})
	}
}

func TestPoolConfig(t *testing.T) {
	t.Parallel()
	c := validConfig()
	c.Schema = "My_Schema"
	c.MaxConns, c.MinConns, c.AcquireTimeout = 7, 2, 4
	pc, err := c.PoolConfig()
	if err != nil {
		t.Fatal(err)
	}
	if pc.MaxConns != 7 || pc.MinConns != 2 || pc.ConnConfig.ConnectTimeout != 4*time.Second {
		t.Errorf("pool sizes/timeouts: max %d min %d connect %v", pc.MaxConns, pc.MinConns, pc.ConnConfig.ConnectTimeout)
	}
	rp := pc.ConnConfig.RuntimeParams
	if rp["search_path"] != `"My_Schema"` || rp["timezone"] != "UTC" || rp["application_name"] != "noetl" {
		t.Errorf("runtime params = %v", rp)
	}
	c = c.WithURL("postgres://u@h/d?application_name=custom")
	pc, err = c.PoolConfig()
	if err != nil {
		t.Fatal(err)
	}
	if pc.ConnConfig.RuntimeParams["application_name"] != "custom" {
		t.Errorf("application_name from DATABASE_URL overridden: %v", pc.ConnConfig.RuntimeParams)
	}
	c = c.WithURL("postgres://u:pw@h:notaport/d")
	if _, err := c.PoolConfig(); err == nil || strings.Contains(err.Error(), "pw") {
		t.Errorf("bad URL: PoolConfig err = %v", err)
	}
}

func TestQuoteIdent(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"noetl": `"noetl"`, "My": `"My"`, `a"b`: `"a""b"`} {
		if got := QuoteIdent(in); got != want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestMigrationSetValidate(t *testing.T) {
	t.Parallel()
	files := func(m map[string]string) fstest.MapFS {
		out := fstest.MapFS{}
		for name, body := range m {
			out[name] = &fstest.MapFile{Data: []byte(body)}
		}
		return out
	}
	good := files(map[string]string{"0001_a.sql": "CREATE TABLE a (x int);", "0002_b.sql": "CREATE TABLE b (x int);", "README.md": "not a migration"})
	cases := []struct {
		name    string
		set     MigrationSet
		wantErr string
	}{
		{"good", MigrationSet{Service: "svc", Files: good, Legacy: map[int]int{7: 2}}, ""},
		{"testdata", MigrationSet{Service: "test", Files: os.DirFS("testdata/migrations")}, ""},
		{"gap", MigrationSet{Service: "svc", Files: files(map[string]string{"0001_a.sql": "SELECT 1;", "0003_c.sql": "SELECT 1;"})}, "no gaps"},
		{"duplicate", MigrationSet{Service: "svc", Files: files(map[string]string{"0001_a.sql": "SELECT 1;", "1_b.sql": "SELECT 1;"})}, "share version 1"},
		{"unpadded", MigrationSet{Service: "svc", Files: files(map[string]string{"1_a.sql": "SELECT 1;"})}, "four digits"},
		{"no number", MigrationSet{Service: "svc", Files: files(map[string]string{"base.sql": "SELECT 1;"})}, "positive number"},
		{"empty", MigrationSet{Service: "svc", Files: files(map[string]string{"0001_a.sql": "  "})}, "is empty"},
		{"qualified", MigrationSet{Service: "svc", Files: files(map[string]string{"0001_a.sql": "CREATE TABLE public.a (x int);"})}, "qualifies a name"},
		{"comment may name a schema", MigrationSet{Service: "svc", Files: files(map[string]string{"0001_a.sql": "-- was noetl.a upstream\nCREATE TABLE a (x int);"})}, ""},
		{"legacy maps nowhere", MigrationSet{Service: "svc", Files: good, Legacy: map[int]int{1: 3}}, "does not ship"},
		{"reserved service", MigrationSet{Service: "legacy", Files: good}, "invalid service name"},
		{"no files", MigrationSet{Service: "svc"}, "no files"},
		{"no migrations", MigrationSet{Service: "svc", Files: files(map[string]string{"README.md": "x"})}, "no migrations"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.set.Validate()
			if tc.wantErr == "" && err != nil {
				t.Fatalf("Validate = %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

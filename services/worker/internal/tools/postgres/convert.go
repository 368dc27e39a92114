package postgres

import "encoding/base64"
import "encoding/binary"
import "fmt"
import "math"
import "math/big"
import "net/netip"
import "strconv"
import "strings"
import "time"

import "github.com/jackc/pgx/v5/pgconn"
import "github.com/jackc/pgx/v5/pgtype"

import "github.com/noetl/controlplane/shared/jsonx"

// convert maps a column value to the JSON model: integers as int64, floats, booleans,
// text; json/jsonb decoded with 64-bit integers intact; numeric as an exact decimal
// string; timestamptz as RFC 3339 in UTC, timestamp without an offset, date and time as
// text; uuid as text; bytea as base64; arrays element by element, nested as many levels
// as they have dimensions; anything else (interval, bit strings, ranges: textTypes) as
// the text PostgreSQL would print.
// layout is zonelessLayout's for the column's type.
func convert(v any, f pgconn.FieldDescription, raw []byte, layout string) any {
	if v == nil {
		return nil
	}
	switch f.DataTypeOID {
	case pgtype.JSONOID, pgtype.JSONBOID:
		b := raw
		if f.DataTypeOID == pgtype.JSONBOID && f.Format == pgtype.BinaryFormatCode && len(b) > 0 && b[0] == 1 {
			b = b[1:] // jsonb's binary form is a version byte and the text
		}
		if d, err := jsonx.DecodeExactIntegers(b); err == nil {
			return d
		}
		return string(b)
	}
	out := value(v)
	if layout != "" {
		out = zonelessTimes(v, layout)
	}
	if list, ok := out.([]any); ok && len(list) > 0 {
		if dims := arrayDims(f, raw); dims != nil {
			return reshape(list, dims)
		}
	}
	return out
}

// The layouts of the types without a time zone: pgx decodes them as UTC times, which
// value would print with a "Z" PostgreSQL never meant.
const (
	timestampLayout = "2006-01-02T15:04:05.999999"
	dateLayout      = "2006-01-02"
)

// zonelessLayout is the layout of a column of timestamp or date values (a scalar, an
// array, an array of a domain over either: its codec says, where its OID is the
// database's own), "" for any other column.
func zonelessLayout(m *pgtype.Map, oid uint32) string {
	t, ok := m.TypeForOID(oid)
	if !ok {
		return ""
	}
	switch c := t.Codec.(type) {
	case *pgtype.TimestampCodec:
		return timestampLayout
	case pgtype.DateCodec, *pgtype.DateCodec:
		return dateLayout
	case *pgtype.ArrayCodec:
		if c.ElementType != nil && c.ElementType.OID != oid {
			return zonelessLayout(m, c.ElementType.OID)
		}
	}
	return ""
}

// zonelessTimes is a timestamp or date value, an array's elements each, printed without
// an offset (as PostgreSQL prints it), not as value prints a time.Time (RFC 3339 UTC).
func zonelessTimes(v any, layout string) any {
	if t, ok := v.(time.Time); ok {
		return withEra(t, t.Format(layout))
	}
	if list, ok := v.([]any); ok {
		return jsonx.MapChildren(list, func(e any) any { return zonelessTimes(e, layout) })
	}
	return value(v)
}

// withEra is a time Format printed, with a year before 1 AD written as PostgreSQL
// writes it, 0044-03-15 BC: Go's astronomical year (-0043-03-15), which PostgreSQL
// cannot read back, made a BC row fail to bind in the next step.
func withEra(t time.Time, s string) string {
	if t.Year() > 0 {
		return s
	}
	monthAt := strings.IndexByte(s[1:], '-') + 1 // past the year, with its sign
	return fmt.Sprintf("%04d", 1-t.Year()) + s[monthAt:] + " BC"
}

func value(v any) any {
	switch t := v.(type) {
	case time.Time:
		return withEra(t.UTC(), t.UTC().Format(time.RFC3339Nano))
	case []byte:
		return base64.StdEncoding.EncodeToString(t)
	case [16]byte:
		return fmt.Sprintf("%x-%x-%x-%x-%x", t[0:4], t[4:6], t[6:8], t[8:10], t[10:16])
	case pgtype.Numeric:
		return numericText(t)
	case pgtype.Time:
		if !t.Valid {
			return nil
		}
		d := time.Duration(t.Microseconds) * time.Microsecond
		if d == 24*time.Hour {
			return "24:00:00" // a valid time, the end of a day; Format wrapped it to 00:00:00
		}
		return time.Time{}.Add(d).Format("15:04:05.999999")
	case netip.Prefix, netip.Addr:
		return t.(fmt.Stringer).String()
	case []any, map[string]any:
		return jsonx.MapChildren(t, value)
	case float64:
		return floatValue(t)
	case float32:
		// The shortest decimal that is this float4, as PostgreSQL prints it: widened
		// as it is, 0.1 was 0.10000000149011612.
		f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(t), 'g', -1, 32), 64)
		return floatValue(f)
	case nil, bool, string, int64, int8, int16, int32, int, uint32:
		return jsonx.Normalize(t) // integers as int64, float32 as float64
	case fmt.Stringer:
		return t.String()
	}
	if dv, ok := v.(interface{ Value() (any, error) }); ok {
		if x, err := dv.Value(); err == nil && x != v {
			return value(x)
		}
	}
	return jsonx.Normalize(v)
}

// floatValue is a float8 or float4 as JSON carries it: a number, except NaN and the
// infinities, which JSON has no number for (the result could not be sent at all); they
// are the text PostgreSQL prints, as a numeric's are.
func floatValue(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}

// withZeroScale gives a zero its display scale: pgx decodes a binary numeric without
// digits as a bare 0, dropping the scale PostgreSQL prints (0::numeric(10,2) is "0.00"),
// while other values keep it. The scale is the fourth int16 of the binary form (ndigits,
// weight, sign, dscale).
func withZeroScale(n pgtype.Numeric, raw []byte) pgtype.Numeric {
	if !n.Valid || n.NaN || n.InfinityModifier != pgtype.Finite || (n.Int != nil && n.Int.Sign() != 0) || len(raw) < 8 {
		return n
	}
	if dscale := int32(binary.BigEndian.Uint16(raw[6:8])); dscale > 0 && dscale <= 16383 {
		n.Int, n.Exp = new(big.Int), -dscale
	}
	return n
}

// numericText renders a numeric exactly: digits, a point where the exponent says, no
// float in between.
func numericText(n pgtype.Numeric) any {
	switch {
	case !n.Valid:
		return nil
	case n.NaN:
		return "NaN"
	case n.InfinityModifier == pgtype.Infinity:
		return "Infinity"
	case n.InfinityModifier == pgtype.NegativeInfinity:
		return "-Infinity"
	}
	i := n.Int
	if i == nil {
		i = new(big.Int)
	}
	digits := new(big.Int).Abs(i).String()
	neg := i.Sign() < 0
	var s string
	if n.Exp >= 0 {
		s = digits + strings.Repeat("0", int(n.Exp))
	} else {
		scale := int(-n.Exp)
		if len(digits) <= scale {
			digits = strings.Repeat("0", scale-len(digits)+1) + digits
		}
		s = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

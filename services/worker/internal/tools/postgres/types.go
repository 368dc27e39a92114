package postgres

import "context"
import "encoding/base64"
import "encoding/binary"
import "encoding/hex"
import "encoding/json"
import "errors"
import "fmt"
import "math"
import "strings"

import "github.com/jackc/pgx/v5"
import "github.com/jackc/pgx/v5/pgconn"
import "github.com/jackc/pgx/v5/pgtype"

import "github.com/noetl/controlplane/services/worker/internal/tool"
import "github.com/noetl/controlplane/shared/jsonx"

// textOnlyCodec reads a type in PostgreSQL's text format, as the string PostgreSQL
// prints. It refuses the binary format, so an array of the type is read as text too
// (pgx reads arrays in binary whenever the element type allows it).
type textOnlyCodec struct{ pgtype.TextCodec }

func (textOnlyCodec) FormatSupported(format int16) bool { return format == pgtype.TextFormatCode }

// numericCodec reads a numeric as pgx does, but a zero keeps its display scale
// (withZeroScale), in arrays too: '{0.00}'::numeric[] was ["0"].
type numericCodec struct{ pgtype.NumericCodec }

func (c numericCodec) DecodeValue(m *pgtype.Map, oid uint32, format int16, src []byte) (any, error) {
	v, err := c.NumericCodec.DecodeValue(m, oid, format, src)
	if n, ok := v.(pgtype.Numeric); ok && err == nil && format == pgtype.BinaryFormatCode {
		return withZeroScale(n, src), nil
	}
	return v, err
}

// textTypes are the types pgx decodes into Go structs without a JSON form a user
// expects (an interval as {Months, Days, Microseconds}, a bit string as bytes and a
// length, a range as bounds and bound types, "char" as a number, a circle as {P, R,
// Valid}, xml as base64 bytes, a tid as {BlockNumber, OffsetNumber, Valid}): each with
// its array type. Read as text they are what
// psql shows: "1 day 02:00:00", "1010", "[1,5)", "<(0,0),2>", "<a>x</a>".
var textTypes = []struct {
	name          string
	oid, arrayOID uint32
}{
	{"char", pgtype.QCharOID, pgtype.QCharArrayOID},
	{"interval", pgtype.IntervalOID, pgtype.IntervalArrayOID},
	{"bit", pgtype.BitOID, pgtype.BitArrayOID},
	{"varbit", pgtype.VarbitOID, pgtype.VarbitArrayOID},
	{"int4range", pgtype.Int4rangeOID, pgtype.Int4rangeArrayOID},
	{"int8range", pgtype.Int8rangeOID, pgtype.Int8rangeArrayOID},
	{"numrange", pgtype.NumrangeOID, pgtype.NumrangeArrayOID},
	{"tsrange", pgtype.TsrangeOID, pgtype.TsrangeArrayOID},
	{"tstzrange", pgtype.TstzrangeOID, pgtype.TstzrangeArrayOID},
	{"daterange", pgtype.DaterangeOID, pgtype.DaterangeArrayOID},
	{"int4multirange", pgtype.Int4multirangeOID, pgtype.Int4multirangeArrayOID},
	{"int8multirange", pgtype.Int8multirangeOID, pgtype.Int8multirangeArrayOID},
	{"nummultirange", pgtype.NummultirangeOID, pgtype.NummultirangeArrayOID},
	{"tsmultirange", pgtype.TsmultirangeOID, pgtype.TsmultirangeArrayOID},
	{"tstzmultirange", pgtype.TstzmultirangeOID, pgtype.TstzmultirangeArrayOID},
	{"datemultirange", pgtype.DatemultirangeOID, pgtype.DatemultirangeArrayOID},
	{"line", pgtype.LineOID, pgtype.LineArrayOID},
	{"lseg", pgtype.LsegOID, pgtype.LsegArrayOID},
	{"box", pgtype.BoxOID, pgtype.BoxArrayOID},
	{"path", pgtype.PathOID, pgtype.PathArrayOID},
	{"polygon", pgtype.PolygonOID, pgtype.PolygonArrayOID},
	{"circle", pgtype.CircleOID, pgtype.CircleArrayOID},
	{"xml", pgtype.XMLOID, pgtype.XMLArrayOID},
	{"tid", pgtype.TIDOID, pgtype.TIDArrayOID},
	// pgx gives inet a /32 (/128) even for a host address, which PostgreSQL prints bare.
	{"inet", pgtype.InetOID, pgtype.InetArrayOID},
	// pgx knows no money: an array of it came as one "{$1.50}" string. Built-in OIDs.
	{"money", 790, 791},
}

// registerTypes makes a connection read textTypes as text, numeric with the scale of a
// zero, and json and jsonb with their integers exact (each in arrays too).
func registerTypes(_ context.Context, c *pgx.Conn) error {
	m := c.TypeMap()
	for _, t := range textTypes {
		register(m, &pgtype.Type{Name: t.name, OID: t.oid, Codec: textOnlyCodec{}}, t.arrayOID)
	}
	register(m, &pgtype.Type{Name: "numeric", OID: pgtype.NumericOID, Codec: numericCodec{}}, pgtype.NumericArrayOID)
	register(m, &pgtype.Type{Name: "json", OID: pgtype.JSONOID, Codec: &pgtype.JSONCodec{Marshal: json.Marshal, Unmarshal: exactJSON}},
		pgtype.JSONArrayOID)
	register(m, &pgtype.Type{Name: "jsonb", OID: pgtype.JSONBOID, Codec: &pgtype.JSONBCodec{Marshal: json.Marshal, Unmarshal: exactJSON}},
		pgtype.JSONBArrayOID)
	return nil
}

// register adds a type and its array type to a connection's map.
func register(m *pgtype.Map, elem *pgtype.Type, arrayOID uint32) {
	m.RegisterType(elem)
	m.RegisterType(&pgtype.Type{Name: "_" + elem.Name, OID: arrayOID, Codec: &pgtype.ArrayCodec{ElementType: elem}})
}

// exactJSON decodes a json or jsonb value into the JSON model as convert does a column
// of one, integers as int64 (beyond 64 bits their exact text): pgx's own decoder made
// every number a float64, and a jsonb[] element's 3900000000000000123 came back as
// 3900000000000000000. A number no float64 holds leaves the text as it is.
func exactJSON(data []byte, v any) error {
	p, ok := v.(*any)
	if !ok {
		return json.Unmarshal(data, v)
	}
	d, err := jsonx.DecodeExactIntegers(data)
	if err != nil {
		d = string(data)
	}
	*p = d
	return nil
}

// bindParams fits each parameter to the type PostgreSQL infers for its placeholder:
// JSON gives numbers, booleans, objects and lists, and pgx encodes none of them into
// text, so for a text placeholder ($1::text, or an untyped $1) a value is its text, as
// for a text array each element; an object for any other type but JSON is its JSON text.
// Other values go as they are: pgx converts a number into any numeric type and a string
// into any type PostgreSQL can read it as.
// sd is the statement's description.
func bindParams(c *pgx.Conn, sd *pgconn.StatementDescription, params []any) ([]any, error) {
	if len(sd.ParamOIDs) != len(params) {
		return nil, tool.Configf("the query has %d parameters, params gives %d", len(sd.ParamOIDs), len(params))
	}
	out := make([]any, len(params))
	for i, p := range params {
		v, err := paramFor(p, sd.ParamOIDs[i])
		if err == nil {
			err = encodable(c, sd.ParamOIDs[i], v)
		}
		if err != nil {
			return nil, tool.Configf("params[%d]: %v", i, err)
		}
		out[i] = v
	}
	return out, nil
}

// encodable tries the encoding pgx will do for v at its placeholder, with pgx's own
// builder: a value it cannot encode (a boolean for an int placeholder) would otherwise
// fail the query as a database error ("failed to encode args[0]"), blaming no parameter
// by the name the step gives it.
func encodable(c *pgx.Conn, oid uint32, v any) error {
	var b pgx.ExtendedQueryBuilder
	if err := b.Build(c.TypeMap(), &pgconn.StatementDescription{ParamOIDs: []uint32{oid}}, []any{v}); err != nil {
		// pgx's message quotes the value, which may be a secret: name its type instead.
		name := fmt.Sprintf("OID %d", oid)
		if t, ok := c.TypeMap().TypeForOID(oid); ok {
			name = t.Name
		}
		return fmt.Errorf("%s given for a placeholder of type %s, which pgx cannot send; give a value of that type or cast in SQL", jsonx.TypeName(v), name)
	}
	return nil
}

func paramFor(v any, oid uint32) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch oid {
	case pgtype.ByteaOID:
		return byteaParam(v)
	case pgtype.ByteaArrayOID:
		list, ok := v.([]any)
		if !ok {
			break
		}
		out := make([]any, len(list))
		for i, e := range list {
			if e == nil {
				continue
			}
			b, err := byteaParam(e)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			out[i] = b
		}
		return out, nil
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID:
		if err := wholeNumber(v); err != nil {
			return nil, err
		}
	case pgtype.Int2ArrayOID, pgtype.Int4ArrayOID, pgtype.Int8ArrayOID:
		if list, ok := v.([]any); ok {
			for i, e := range list {
				if err := wholeNumber(e); err != nil {
					return nil, fmt.Errorf("element %d: %w", i, err)
				}
			}
		}
	}
	return paramValue(v, oid), nil
}

// wholeNumber refuses a number with a fraction for an integer placeholder: pgx drops
// the fraction (2.7 was stored as 2), where PostgreSQL itself rounds a cast and refuses
// the text '2.7'. The value is not quoted: a parameter may be a secret.
func wholeNumber(v any) error {
	if f, ok := v.(float64); ok && f != math.Trunc(f) {
		return errors.New("a number with a fraction for an integer placeholder, whose fraction would be dropped; " +
			"round it in the template or cast in SQL ($1::numeric)")
	}
	return nil
}

// byteaParam reads a value for a bytea placeholder the way bytea results are written:
// a string is base64 (so a row read by one step binds as it was in the next), an
// object {base64, ...} is what the http tool makes of a binary body and python of
// bytes; a string starting with \x is PostgreSQL's own hex form.
// Anything else is refused rather than stored as the bytes of its text: "hello" would
// otherwise go in as five bytes and come back as "aGVsbG8=".
func byteaParam(v any) (any, error) {
	text, ok := v.(string)
	if m, isMap := v.(map[string]any); isMap {
		text, ok = m["base64"].(string)
	}
	if !ok {
		return nil, fmt.Errorf("a bytea placeholder takes base64 text, got %s", jsonx.TypeName(v))
	}
	if hexText, isHex := strings.CutPrefix(text, `\x`); isHex {
		// Decoded here, not left to PostgreSQL: inside an array pgx sends the element
		// in binary, as the bytes of the text.
		b, err := hex.DecodeString(hexText)
		if err != nil {
			return nil, fmt.Errorf(`a bytea placeholder takes \x followed by hex digits: %w`, err)
		}
		return b, nil
	}
	b, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, errors.New(`a bytea placeholder takes base64 text (as bytea results come back) or PostgreSQL's \x hex; this string is neither`)
	}
	return b, nil
}

// paramValue fits a value to a placeholder of any type but bytea.
func paramValue(v any, oid uint32) any {
	switch oid {
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID, pgtype.UnknownOID:
		return tool.Text(v)
	case pgtype.TextArrayOID, pgtype.VarcharArrayOID, pgtype.BPCharArrayOID, pgtype.NameArrayOID:
		if list, ok := v.([]any); ok {
			out := make([]any, len(list))
			for i, e := range list {
				if e != nil {
					out[i] = tool.Text(e)
				}
			}
			return out
		}
	case pgtype.JSONOID, pgtype.JSONBOID:
		return v
	}
	if m, ok := v.(map[string]any); ok {
		return tool.Text(m)
	}
	return v
}

// arrayDims are the dimensions of an array value as PostgreSQL sent it, nil when it is
// not an array of more than one dimension. pgx hands every array over flat.
func arrayDims(f pgconn.FieldDescription, raw []byte) []int {
	if f.Format == pgtype.BinaryFormatCode {
		// ndim, has-null flag, element type, then (length, lower bound) per dimension.
		if len(raw) < 12 {
			return nil
		}
		n := int(int32(binary.BigEndian.Uint32(raw)))
		if n < 2 || len(raw) < 12+8*n {
			return nil
		}
		dims := make([]int, n)
		for i := range dims {
			dims[i] = int(int32(binary.BigEndian.Uint32(raw[12+8*i:])))
		}
		return dims
	}
	return textArrayDims(string(raw))
}

// textArrayDims reads the dimensions of an array literal ({{1,2},{3,4}}, with an
// optional [1:2][1:2]= bounds prefix): at each depth, the elements of its first group.
func textArrayDims(s string) []int {
	if strings.HasPrefix(s, "[") {
		if i := strings.Index(s, "="); i >= 0 {
			s = s[i+1:]
		}
	}
	var dims []int
	var closed []bool // closed[d]: the first group at depth d+1 has ended
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case '{':
			depth++
			if depth > len(dims) {
				dims, closed = append(dims, 1), append(closed, false)
			}
		case '}':
			if depth > 0 {
				closed[depth-1] = true
				depth--
			}
		case ',':
			if depth > 0 && !closed[depth-1] {
				dims[depth-1]++
			}
		}
	}
	if len(dims) < 2 {
		return nil
	}
	return dims
}

// reshape nests a flat list by dims; a list that does not fill them stays flat.
func reshape(flat []any, dims []int) []any {
	n := 1
	for _, d := range dims {
		n *= d
	}
	if len(dims) < 2 || n != len(flat) || n == 0 {
		return flat
	}
	size := n / dims[0]
	out := make([]any, dims[0])
	for i := range out {
		out[i] = reshape(flat[i*size:(i+1)*size], dims[1:])
	}
	return out
}

// registerArrayTypes teaches the connection the array types a statement uses that pgx
// does not know: arrays of an enum, a domain or a composite type, whose OIDs are the
// database's own. Unknown to pgx, such a column came back as one string ("{ok,sad}")
// and such a placeholder could not be bound at all. Each element is read as its base
// type when it is a domain over a type pgx knows (ARRAY[5::posint] is [5]), else as the
// text PostgreSQL prints (an enum's label, a composite's "(1,x)").
func registerArrayTypes(ctx context.Context, c *pgx.Conn, sd *pgconn.StatementDescription) error {
	m := c.TypeMap()
	var unknown []uint32
	for _, oid := range sd.ParamOIDs {
		if _, ok := m.TypeForOID(oid); !ok {
			unknown = append(unknown, oid)
		}
	}
	for _, f := range sd.Fields {
		if _, ok := m.TypeForOID(f.DataTypeOID); !ok {
			unknown = append(unknown, f.DataTypeOID)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	rows, err := c.Query(ctx, `SELECT a.oid, a.typname, e.oid, e.typname, CASE WHEN e.typtype = 'd' THEN e.typbasetype ELSE 0 END
		FROM pg_catalog.pg_type a JOIN pg_catalog.pg_type e ON e.oid = a.typelem
		WHERE a.oid = ANY($1) AND a.typcategory = 'A' AND a.typlen = -1`, unknown)
	if err != nil {
		return fmt.Errorf("reading the statement's array types: %w", err)
	}
	type arrayType struct {
		oid, elemOID, baseOID uint32
		name, elemName        string
	}
	var found []arrayType
	for rows.Next() {
		var a arrayType
		if err := rows.Scan(&a.oid, &a.name, &a.elemOID, &a.elemName, &a.baseOID); err != nil {
			rows.Close()
			return fmt.Errorf("reading the statement's array types: %w", err)
		}
		found = append(found, a)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading the statement's array types: %w", err)
	}
	for _, a := range found {
		elem, ok := m.TypeForOID(a.elemOID)
		if !ok {
			elem = &pgtype.Type{Name: a.elemName, OID: a.elemOID, Codec: textOnlyCodec{}}
			if base, known := m.TypeForOID(a.baseOID); known && a.baseOID != 0 {
				elem = &pgtype.Type{Name: a.elemName, OID: a.elemOID, Codec: base.Codec}
			}
			// Registered on its own too: the array codec scans its elements through
			// the map by the element's OID.
			m.RegisterType(elem)
		}
		m.RegisterType(&pgtype.Type{Name: a.name, OID: a.oid, Codec: &pgtype.ArrayCodec{ElementType: elem}})
	}
	return nil
}

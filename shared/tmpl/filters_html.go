package tmpl

// Filters that write HTML: xmlattr and urlize, as Jinja2 3.1 writes them. There is no
// autoescaping here, so their results are plain strings.

import "fmt"
import "html"
import "regexp"
import "sort"
import "strings"
import "unicode"

// fXmlattr is Jinja2's xmlattr(autospace=True): `key="value"` for each entry whose value
// is neither null nor undefined, values (and keys) HTML-escaped, joined by spaces, and
// with autospace a leading space when anything was written. Entries come in key order
// (a map has no other order here). A key holding whitespace, "/", ">" or "=" is an
// error, as from Jinja2 3.1.4: it would let the key inject markup.
func fXmlattr(_ *env, v any, args []any, kw map[string]any) (any, error) {
	m, err := asMap(v)
	if err != nil {
		return nil, err
	}
	autospace := truthy(arg(args, kw, 0, "autospace", true))
	var b strings.Builder
	for _, k := range sortedKeys(m) {
		val := norm(m[k])
		if isNullish(val) {
			continue
		}
		if strings.ContainsAny(k, " \t\n\r\f\v/>=") {
			return nil, fmt.Errorf("invalid character in attribute name: %q", k)
		}
		if autospace || b.Len() > 0 {
			b.WriteByte(' ') // before each entry; before the first only with autospace
		}
		fmt.Fprintf(&b, `%s="%s"`, html.EscapeString(k), html.EscapeString(toText(val)))
	}
	return checkSize(b.String())
}

// Jinja2's urlize patterns (jinja2.utils), with Python's Unicode \w spelt out: Go's \w
// is ASCII only.
var (
	urlizeHTTP = regexp.MustCompile(`(?i)^(` +
		`(https?://|www\.)(([\p{L}\p{N}_%-]+\.)+)?([a-z]{2,63}|xn--[\p{L}\p{N}_%]{2,59})` +
		`|([\p{L}\p{N}_%-]{2,63}\.)+(com|net|int|edu|gov|org|info|mil)` +
		`|(https?://)((([\p{Nd}]{1,3})(\.[\p{Nd}]{1,3}){3})|(\[([\p{Nd}a-f]{0,4}:){2}([\p{Nd}a-f]{0,4}:?){1,6}\]))` +
		`)(:[\p{Nd}]{1,5})?([/?#]\S*)?$`)
	urlizeEmail  = regexp.MustCompile(`^\S+@[\p{L}\p{N}_][\p{L}\p{N}_.-]*\.[\p{L}\p{N}_]+$`)
	urlizeScheme = regexp.MustCompile(`^[\p{L}\p{N}_.+-]{2,}:/{0,2}$`)
	urlizeLead   = regexp.MustCompile(`^([(<]|&lt;)+`)
	urlizeTrail  = regexp.MustCompile(`([)>.,\n]|&gt;)+$`)
)

// fUrlize is Jinja2's urlize(trim_url_limit=None, nofollow=False, target=None, rel=None,
// extra_schemes=None): the text HTML-escaped, and each word that is a URL (http://,
// https://, www., a bare domain under a common top-level domain), a mailto: link or an
// e-mail address made a link, leading "(" "<" and trailing ")" ">" "." "," kept outside
// it unless they balance brackets inside it. Links to URLs carry rel="noopener" (Jinja2's
// default policy) plus nofollow and rel's words, sorted, and target when given;
// a displayed URL longer than trim_url_limit is cut and ends in "...".
func fUrlize(_ *env, v any, args []any, kw map[string]any) (any, error) {
	limit := -1
	if l := arg(args, kw, 0, "trim_url_limit", nil); !isNullish(l) {
		n, ok := l.(int64)
		if !ok {
			return nil, fmt.Errorf("urlize trim_url_limit must be an integer")
		}
		limit = int(max(n, 0))
	}
	rels := map[string]bool{"noopener": true}
	if truthy(arg(args, kw, 1, "nofollow", false)) {
		rels["nofollow"] = true
	}
	target := ""
	if t := arg(args, kw, 2, "target", nil); !isNullish(t) {
		target = toText(t)
	}
	if r := arg(args, kw, 3, "rel", nil); !isNullish(r) {
		for _, w := range strings.Fields(toText(r)) {
			rels[w] = true
		}
	}
	var schemes []string
	if s := arg(args, kw, 4, "extra_schemes", nil); !isNullish(s) {
		list, err := seqOf(s)
		if err != nil {
			return nil, fmt.Errorf("urlize extra_schemes: %w", err)
		}
		for _, it := range list {
			sc := toText(it)
			if !urlizeScheme.MatchString(sc) {
				return nil, fmt.Errorf("%q is not a valid URI scheme prefix", sc)
			}
			schemes = append(schemes, sc)
		}
	}
	relWords := make([]string, 0, len(rels))
	for w := range rels {
		relWords = append(relWords, w)
	}
	sort.Strings(relWords)
	attrs := ` rel="` + html.EscapeString(strings.Join(relWords, " ")) + `"`
	if target != "" {
		attrs += ` target="` + html.EscapeString(target) + `"`
	}
	trim := func(s string) string {
		if rs := []rune(s); limit >= 0 && len(rs) > limit {
			return string(rs[:limit]) + "..."
		}
		return s
	}
	var b strings.Builder
	for _, word := range splitKeepSpace(html.EscapeString(toText(v))) {
		if word == "" || unicode.IsSpace([]rune(word)[0]) {
			b.WriteString(word)
			continue
		}
		b.WriteString(urlizeWord(word, attrs, trim, schemes))
		if b.Len() > maxOutput {
			return nil, fmt.Errorf("output too large")
		}
	}
	return b.String(), nil
}

// urlizeWord is the body of Jinja2's urlize loop for one (escaped) word.
func urlizeWord(word, attrs string, trim func(string) string, schemes []string) string {
	head, middle, tail := "", word, ""
	if m := urlizeLead.FindString(middle); m != "" {
		head, middle = m, middle[len(m):]
	}
	if loc := urlizeTrail.FindStringIndex(middle); loc != nil {
		middle, tail = middle[:loc[0]], middle[loc[0]:]
	}
	// Prefer balancing brackets in the URL to leaving a closing one outside.
	for _, pair := range [][2]string{{"(", ")"}, {"<", ">"}, {"&lt;", "&gt;"}} {
		open, closing := strings.Count(middle, pair[0]), strings.Count(middle, pair[1])
		if open <= closing {
			continue
		}
		// Jinja2 moves one closing bracket (and what precedes it) at a time; moving
		// them all at once keeps a word of many brackets linear.
		end := 0
		for range min(open, strings.Count(tail, pair[1])) {
			end += strings.Index(tail[end:], pair[1]) + len(pair[1])
		}
		middle, tail = middle+tail[:end], tail[end:]
	}
	switch {
	case urlizeHTTP.MatchString(middle):
		href := middle
		if !strings.HasPrefix(middle, "https://") && !strings.HasPrefix(middle, "http://") {
			href = "https://" + middle
		}
		middle = `<a href="` + href + `"` + attrs + `>` + trim(middle) + `</a>`
	case strings.HasPrefix(middle, "mailto:") && urlizeEmail.MatchString(middle[7:]):
		middle = `<a href="` + middle + `">` + middle[7:] + `</a>`
	case strings.Contains(middle, "@") && !strings.HasPrefix(middle, "www.") &&
		!strings.HasPrefix(middle, "@") && !strings.Contains(middle, ":") && urlizeEmail.MatchString(middle):
		middle = `<a href="mailto:` + middle + `">` + middle + `</a>`
	default:
		for _, sc := range schemes {
			if middle != sc && strings.HasPrefix(middle, sc) {
				middle = `<a href="` + middle + `"` + attrs + `>` + middle + `</a>`
			}
		}
	}
	return head + middle + tail
}

// splitKeepSpace is Python's re.split(r"(\s+)", s): the words and, between them, the
// runs of whitespace that separated them.
func splitKeepSpace(s string) []string {
	var out []string
	start := 0
	inSpace := false
	for i, r := range s {
		if sp := unicode.IsSpace(r); sp != inSpace {
			if i > 0 || sp {
				out = append(out, s[start:i])
			}
			start, inSpace = i, sp
		}
	}
	return append(out, s[start:])
}

package sanitize

import (
	"regexp/syntax"
	"slices"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// nanpaPossible reports whether digits, the digits of a phone-number
// candidate written without a '+', may be a number that libphonenumber
// finds valid in PhoneRegion ("US"), without asking it: libphonenumber
// takes microseconds and dozens of allocations for each candidate, and a
// table of order numbers or timestamps is made of candidates.
//
// Unless the digits start with the international prefix 011, the country
// code libphonenumber settles on is 1, and the national number it keeps is
// what is left once it has stripped leading digits (the country code, the
// national prefix 1): a suffix of the digits. The number is valid only if
// that suffix matches the pattern of one of the number types (fixed line,
// mobile, toll free, ...) of one of the regions of country code 1.
// nanpaPossible tests the suffixes against what nanpaPrefixes keeps of
// those patterns: the lengths they match and, for each length, the first
// four digits. TestNANPAPossible and FuzzNANPAPossible check it against
// libphonenumber.
func nanpaPossible(digits []byte) bool {
	if len(digits) >= 3 && digits[0] == '0' && digits[1] == '1' && digits[2] == '1' {
		return true // 011: any country's number may follow
	}
	t := nanpaPrefixes()
	if t == nil {
		return true // the metadata is not as nanpaPrefixes expects
	}
	for _, n := range t.lens {
		if n > len(digits) {
			break
		}
		v := 0
		for _, c := range digits[len(digits)-n : len(digits)-n+min(n, 4)] {
			v = v*10 + int(c-'0')
		}
		if t.sets[n].has(v) {
			return true
		}
	}
	return false
}

// maxPhoneDigits bounds the national numbers nanpaPrefixes keeps: longer
// ones never reach libphonenumber (see matchNumber).
const maxPhoneDigits = 17

// prefixSet is a set of numbers below 10000: the first four digits of the
// national numbers of one length (all their digits when shorter).
type prefixSet [10000/64 + 1]uint64

// nanpaTable is what nanpaPrefixes keeps: the lengths of the national
// numbers, in increasing order, and the set of prefixes of each.
type nanpaTable struct {
	lens []int
	sets [maxPhoneDigits + 1]*prefixSet
}

func (s *prefixSet) has(v int) bool { return s[v>>6]&(1<<(v&63)) != 0 }
func (s *prefixSet) add(v int)      { s[v>>6] |= 1 << (v & 63) }

// shapes maps a length to the prefixes of the strings of that length that
// an expression matches, sorted: their first four digits as a number (all
// their digits when shorter).
type shapes map[int][]uint16

// nanpaPrefixes returns, by length, the first four digits of the national
// numbers that match a number type of a region of country code 1, from
// libphonenumber's own metadata; nil when the metadata is not what
// nanpaPossible relies on (PhoneRegion's international prefix 011, its
// national prefix 1 stripped without a transform rule) or a pattern is
// beyond digitShapes, so that every candidate goes to libphonenumber.
// Building it takes some 20 ms, once: NewInputScanner does it.
var nanpaPrefixes = sync.OnceValue(func() *nanpaTable {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return nil
	}
	all := shapes{}
	region := false
	for _, md := range coll.GetMetadata() {
		if md.GetId() == PhoneRegion {
			if md.GetCountryCode() != 1 || md.GetInternationalPrefix() != "011" ||
				md.GetNationalPrefixForParsing() != "1" || md.GetNationalPrefixTransformRule() != "" {
				return nil
			}
			region = true
		}
		if md.GetCountryCode() != 1 {
			continue
		}
		for _, d := range []*phonenumbers.PhoneNumberDesc{md.GetFixedLine(), md.GetMobile(), md.GetTollFree(),
			md.GetPremiumRate(), md.GetSharedCost(), md.GetVoip(), md.GetPersonalNumber(), md.GetPager(),
			md.GetUan(), md.GetVoicemail()} {
			if d == nil || d.GetNationalNumberPattern() == "" {
				continue
			}
			re, err := syntax.Parse(d.GetNationalNumberPattern(), syntax.Perl)
			if err != nil {
				return nil
			}
			s := digitShapes(re.Simplify())
			if s == nil {
				return nil
			}
			all = unionShapes(all, s)
		}
	}
	if !region {
		return nil
	}
	t := new(nanpaTable)
	for n, vs := range all {
		t.sets[n] = new(prefixSet)
		for _, v := range vs {
			t.sets[n].add(int(v))
		}
		t.lens = append(t.lens, n)
	}
	slices.Sort(t.lens)
	return t
})

// digitShapes returns the lengths of the strings of digits that re
// matches whole, up to maxPhoneDigits, with their first four digits: a
// superset, as alternatives with other characters are left out. It
// returns nil for what it does not follow (unbounded repeats, a set of
// prefixes too costly to build).
func digitShapes(re *syntax.Regexp) shapes {
	empty := shapes{0: {0}}
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return empty
	case syntax.OpLiteral:
		out := empty
		for _, r := range re.Rune {
			if r < '0' || r > '9' {
				return shapes{} // matches no string of digits
			}
			if out = concatShapes(out, shapes{1: {uint16(r - '0')}}); out == nil {
				return nil
			}
		}
		return out
	case syntax.OpCharClass:
		var vs []uint16
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := max(re.Rune[i], '0'); r <= min(re.Rune[i+1], '9'); r++ {
				vs = append(vs, uint16(r-'0'))
			}
		}
		return shapes{1: vs}
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return shapes{1: {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}
	case syntax.OpCapture:
		return digitShapes(re.Sub[0])
	case syntax.OpQuest:
		s := digitShapes(re.Sub[0])
		if s == nil {
			return nil
		}
		return unionShapes(s, empty)
	case syntax.OpAlternate:
		out := shapes{}
		for _, sub := range re.Sub {
			s := digitShapes(sub)
			if s == nil {
				return nil
			}
			out = unionShapes(out, s)
		}
		return out
	case syntax.OpConcat:
		out := empty
		for _, sub := range re.Sub {
			s := digitShapes(sub)
			if s == nil {
				return nil
			}
			if out = concatShapes(out, s); out == nil {
				return nil
			}
		}
		return out
	}
	return nil // OpStar, OpPlus, OpRepeat (Simplify leaves none bounded), OpNoMatch...
}

// unionShapes adds b to a and returns a.
func unionShapes(a, b shapes) shapes {
	for n, vs := range b {
		a[n] = mergeValues(a[n], vs)
	}
	return a
}

// mergeValues returns the sorted union of the sorted a and b.
func mergeValues(a, b []uint16) []uint16 {
	if len(a) == 0 {
		return b
	}
	out := make([]uint16, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		switch {
		case a[0] < b[0]:
			out, a = append(out, a[0]), a[1:]
		case b[0] < a[0]:
			out, b = append(out, b[0]), b[1:]
		default:
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// concatShapes returns the shapes of a string of a followed by one of b,
// or nil when building them would take too long.
func concatShapes(a, b shapes) shapes {
	out := shapes{}
	work := 0
	for n1, s1 := range a {
		for n2, s2 := range b {
			n := n1 + n2
			if n > maxPhoneDigits || len(s1) == 0 || len(s2) == 0 {
				continue
			}
			if n1 >= 4 { // the prefixes are whole already
				out[n] = mergeValues(out[n], s1)
				continue
			}
			// The first k digits of b's strings complete a's prefixes:
			// b's prefixes cut to k digits, in order still.
			k := min(4-n1, n2)
			drop := uint16(pow10(min(n2, 4) - k))
			heads := make([]uint16, len(s2))
			for i, v2 := range s2 {
				heads[i] = v2 / drop
			}
			heads = slices.Compact(heads)
			if work += len(s1) * len(heads); work > 1<<22 {
				return nil
			}
			vs := make([]uint16, 0, len(s1)*len(heads))
			for _, v1 := range s1 {
				for _, h := range heads {
					vs = append(vs, v1*uint16(pow10(k))+h)
				}
			}
			slices.Sort(vs)
			out[n] = mergeValues(out[n], slices.Compact(vs))
		}
	}
	return out
}

// pow10 returns 10 to the power k, for k from 0 to 4.
func pow10(k int) int { return [...]int{1, 10, 100, 1000, 10000}[k] }

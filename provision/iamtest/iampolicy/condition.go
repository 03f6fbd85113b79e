package iampolicy

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Context is a request context: condition key to its values. Keys are
// case-insensitive ("IAM JSON policy elements: Condition": condition key
// names are not case-sensitive), so use Set and Lookup, which fold case.
// A key absent from the map is absent from the request; a multivalued key
// such as aws:TagKeys may be present with several values.
type Context map[string][]string

// Set adds key with values (none: present with an empty set).
func (c Context) Set(key string, values ...string) {
	k := strings.ToLower(key)
	c[k] = append(c[k], values...)
}

// Lookup returns key's values and whether the key is present.
func (c Context) Lookup(key string) ([]string, bool) {
	v, ok := c[strings.ToLower(key)]
	return v, ok
}

// Keys returns the present keys, lower-case and sorted.
func (c Context) Keys() []string {
	ks := make([]string, 0, len(c))
	for k := range c {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// setOperator is a condition's set qualifier ("Single-valued vs.
// multivalued context keys": ForAllValues and ForAnyValue).
type setOperator int

const (
	setNone setOperator = iota
	setForAll
	setForAny
)

// Condition is one key of one operator of a Condition block: the values
// are ORed (NORed for a negated operator), the block's conditions ANDed
// ("Conditions with multiple context keys or values").
type Condition struct {
	// Operator is the operator as written, e.g. "ForAllValues:StringLike".
	Operator string
	Key      string
	Values   []string

	set      setOperator
	base     string // lower-case operator without qualifier and IfExists
	ifExists bool
}

// negatedOf maps each negated operator to the positive one it negates.
var negatedOf = map[string]string{
	"stringnotequals": "stringequals", "stringnotequalsignorecase": "stringequalsignorecase",
	"stringnotlike": "stringlike", "numericnotequals": "numericequals", "datenotequals": "dateequals",
	"notipaddress": "ipaddress", "arnnotequals": "arnequals", "arnnotlike": "arnlike",
}

// knownOperators lists every base operator of "IAM JSON policy elements:
// Condition operators"; Parse rejects others as IAM does.
var knownOperators = map[string]bool{
	"stringequals": true, "stringequalsignorecase": true, "stringlike": true,
	"numericequals": true, "numericlessthan": true, "numericlessthanequals": true,
	"numericgreaterthan": true, "numericgreaterthanequals": true,
	"dateequals": true, "datelessthan": true, "datelessthanequals": true,
	"dategreaterthan": true, "dategreaterthanequals": true,
	"bool": true, "binaryequals": true, "ipaddress": true, "arnequals": true, "arnlike": true, "null": true,
}

func parseConditions(raw map[string]map[string]jsonRaw) ([]Condition, error) {
	var out []Condition
	ops := make([]string, 0, len(raw))
	for op := range raw {
		ops = append(ops, op)
	}
	sort.Strings(ops) // deterministic order; the block is an AND anyway
	for _, op := range ops {
		keys := make([]string, 0, len(raw[op]))
		for k := range raw[op] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			c, err := newCondition(op, k, raw[op][k])
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func newCondition(op, key string, raw jsonRaw) (Condition, error) {
	c := Condition{Operator: op, Key: key}
	lower := strings.ToLower(op)
	if q, rest, ok := strings.Cut(lower, ":"); ok {
		switch q {
		case "forallvalues":
			c.set = setForAll
		case "foranyvalue":
			c.set = setForAny
		default:
			return c, malformed("Invalid Condition type : %s", op)
		}
		lower = rest
	}
	// "...IfExists condition operators": any operator but Null may take it.
	if b, ok := strings.CutSuffix(lower, "ifexists"); ok && b != "null" {
		c.ifExists, lower = true, b
	}
	c.base = lower
	if !knownOperators[lower] && negatedOf[lower] == "" {
		return c, malformed("Invalid Condition type : %s", op)
	}
	vals, err := stringOrList(raw)
	if err != nil {
		return c, malformed("Syntax errors in policy.")
	}
	c.Values = vals
	return c, nil
}

// negated reports whether the operator is a negated matching one.
func (c Condition) negated() bool { return negatedOf[c.base] != "" }

// Holds evaluates the condition against ctx (vars expands policy variables).
//
// "IAM JSON policy elements: Condition operators": if the key is not present
// in the request context the condition is false, but true for a negated
// operator (StringNotLike, ArnNotLike...); ...IfExists makes a missing key
// true; Null tests presence itself. "Single-valued vs. multivalued context
// keys": ForAllValues is true when every request value matches (and when
// the key is missing or empty); ForAnyValue when at least one does (false
// when missing or empty).
func (c Condition) Holds(ctx Context) (bool, error) { return c.holds(ctx, true) }

// holds is Holds with policy variables expanded only when vars is set
// (documents of Version 2012-10-17).
func (c Condition) holds(ctx Context, vars bool) (bool, error) {
	vals, present := ctx.Lookup(c.Key)
	if c.base == "null" {
		return c.null(present), nil
	}
	if !present || len(vals) == 0 {
		switch {
		case c.ifExists:
			return true, nil
		case c.set == setForAll:
			return true, nil
		case c.set == setForAny:
			return false, nil
		}
		return c.negated(), nil
	}
	for _, v := range vals {
		ok, err := c.valueMatches(v, ctx, vars)
		if err != nil {
			return false, err
		}
		if c.set == setForAll && !ok {
			return false, nil
		}
		if c.set != setForAll && ok {
			// A plain operator on a multivalued key reads as ForAnyValue.
			return true, nil
		}
	}
	return c.set == setForAll, nil
}

// null implements the Null operator: "true" means the key is absent,
// "false" that it is present; several values are ORed.
func (c Condition) null(present bool) bool {
	for _, v := range c.Values {
		if strings.EqualFold(v, "true") != present {
			return true
		}
	}
	return false
}

// valueMatches tests one request value: true if it matches any policy value
// or, for a negated operator, if it matches none of them (a logical NOR,
// "Evaluation logic for negated matching condition operators").
func (c Condition) valueMatches(v string, ctx Context, vars bool) (bool, error) {
	base := c.base
	if pos := negatedOf[base]; pos != "" {
		base = pos
	}
	hit := false
	for _, p := range c.Values {
		if vars && (strings.HasPrefix(base, "string") || strings.HasPrefix(base, "arn")) {
			expanded, ok := expandVariables(p, ctx)
			if !ok {
				continue
			}
			p = expanded
		}
		ok, err := test(base, v, p)
		if err != nil {
			return false, err
		}
		if ok {
			hit = true
			break
		}
	}
	return hit != c.negated(), nil
}

// test applies a positive base operator to request value v and policy value p.
func test(base, v, p string) (bool, error) {
	switch base {
	case "stringequals":
		return v == p, nil // case-sensitive
	case "stringequalsignorecase":
		return strings.EqualFold(v, p), nil
	case "stringlike":
		return Glob(p, v), nil // case-sensitive, * and ?
	case "arnequals", "arnlike":
		// "ArnEquals and ArnLike behave identically": each of the six
		// colon-delimited components is matched separately, with wildcards.
		return ARNMatch(p, v), nil
	case "bool":
		return strings.EqualFold(v, p), nil
	case "numericequals", "numericlessthan", "numericlessthanequals", "numericgreaterthan", "numericgreaterthanequals":
		return numeric(base, v, p)
	}
	return false, fmt.Errorf("iampolicy does not evaluate the %s condition operator", base)
}

func numeric(base, v, p string) (bool, error) {
	a, err1 := strconv.ParseFloat(v, 64)
	b, err2 := strconv.ParseFloat(p, 64)
	if err1 != nil || err2 != nil {
		return false, nil // a value that is not a number matches nothing
	}
	switch base {
	case "numericequals":
		return a == b, nil
	case "numericlessthan":
		return a < b, nil
	case "numericlessthanequals":
		return a <= b, nil
	case "numericgreaterthan":
		return a > b, nil
	}
	return a >= b, nil
}

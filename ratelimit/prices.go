package ratelimit

import (
	"fmt"
	"math"
	"strings"
)

// Price is what a model's tokens cost, in US dollars per million tokens.
type Price struct {
	Input  float64
	Output float64
}

// PricesDate is when [DefaultPrices] was compiled from OpenAI's published
// standard-tier prices (no batch, flex or cached-input discount).
const PricesDate = "2025-09-15"

// DefaultPrices returns a new copy of the built-in price table (see
// [PricesDate]), keyed by model name. A model matches an entry when its name
// equals the key or is the key followed by a snapshot date ("-2024-08-06"
// or "-0125"); any other model is priced at the table's highest input and
// output prices, so that a spend budget is never undercounted. Prices change:
// pass your own table in [Options.Prices], starting from this one.
func DefaultPrices() map[string]Price {
	return map[string]Price{
		"gpt-5":                  {1.25, 10},
		"gpt-5-chat-latest":      {1.25, 10},
		"gpt-5-mini":             {0.25, 2},
		"gpt-5-nano":             {0.05, 0.40},
		"gpt-5-pro":              {15, 120},
		"gpt-4.1":                {2, 8},
		"gpt-4.1-mini":           {0.40, 1.60},
		"gpt-4.1-nano":           {0.10, 0.40},
		"gpt-4o":                 {2.50, 10},
		"gpt-4o-2024-05-13":      {5, 15},
		"gpt-4o-mini":            {0.15, 0.60},
		"chatgpt-4o-latest":      {5, 15},
		"o1":                     {15, 60},
		"o1-mini":                {1.10, 4.40},
		"o1-pro":                 {150, 600},
		"o3":                     {2, 8},
		"o3-mini":                {1.10, 4.40},
		"o3-pro":                 {20, 80},
		"o4-mini":                {1.10, 4.40},
		"gpt-4-turbo":            {10, 30},
		"gpt-4":                  {30, 60},
		"gpt-3.5-turbo":          {0.50, 1.50},
		"text-embedding-3-small": {0.02, 0},
		"text-embedding-3-large": {0.13, 0},
		"text-embedding-ada-002": {0.10, 0},
		"omni-moderation-latest": {0, 0},
		"text-moderation-latest": {0, 0},
	}
}

// priceTable is a validated price map with its fallback for unknown models.
type priceTable struct {
	m       map[string]Price
	unknown Price
}

func newPriceTable(m map[string]Price) (priceTable, error) {
	if m == nil {
		m = DefaultPrices()
	}
	t := priceTable{m: make(map[string]Price, len(m))}
	for k, p := range m {
		for _, v := range []float64{p.Input, p.Output} {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) || v > 1e6 {
				return priceTable{}, fmt.Errorf("ratelimit: price of %q: %v not in [0, 1e6] USD per 1M tokens", k, v)
			}
		}
		t.m[k] = p
		t.unknown.Input = max(t.unknown.Input, p.Input)
		t.unknown.Output = max(t.unknown.Output, p.Output)
	}
	return t, nil
}

// lookup returns the price of model (see DefaultPrices for the matching).
func (t priceTable) lookup(model string) Price {
	if p, ok := t.m[model]; ok {
		return p
	}
	if i := strings.LastIndexByte(model, '-'); i > 0 && isDigits(model[i+1:]) {
		base := model[:i]
		if len(model)-i == 3 { // "-08-06": strip the whole "-YYYY-MM-DD"
			if len(base) >= 8 && base[len(base)-3] == '-' && isDigits(base[len(base)-2:]) &&
				base[len(base)-8] == '-' && isDigits(base[len(base)-7:len(base)-3]) {
				base = base[:len(base)-8]
			} else {
				return t.unknown
			}
		} else if len(model)-i != 5 { // "-0125"
			return t.unknown
		}
		if p, ok := t.m[base]; ok {
			return p
		}
	}
	return t.unknown
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// micros returns the cost of a in micro-dollars, rounded up. A dollar per
// million tokens is a micro-dollar per token.
func (t priceTable) micros(model string, a Amount) int64 {
	if a.CostUSD > 0 {
		return int64(math.Ceil(a.CostUSD * 1e6))
	}
	if a.InputTokens == 0 && a.OutputTokens == 0 {
		return 0 // nothing to price (Allow's empty amount): no lookup
	}
	p := t.lookup(model)
	return int64(math.Ceil(float64(a.InputTokens)*p.Input + float64(a.OutputTokens)*p.Output))
}

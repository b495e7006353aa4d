// Package ratelimit limits calls to a model API: request rates, calls in
// flight, and token and spend budgets, per caller, per group, per tier and
// globally, exact across replicas through Redis.
//
// It is the limits stage of secureai's pipeline, but stands alone: it
// imports nothing of secureai, and its errors carry RetryAfter and Code
// methods that any caller can read.
//
// # Checks
//
// A [Limiter] holds [Rules] and a [Store]. Per call:
//
//   - [Limiter.Allow] is the cheap check that runs before any expensive
//     work: one request from each rate rule and a concurrency slot, in every
//     scope of the [Subject]. It returns a [Permit] whose Release frees the
//     slot when the call (or the stream) ends.
//   - [Limiter.Reserve] holds the call's worst case ([Amount]: prompt tokens
//     plus choices × output cap, and its price) in every budget, and returns
//     a [Reservation]: Commit charges the real usage and releases the rest,
//     Cancel releases all. A reservation (or a slot) never settled frees
//     itself after the TTL.
//   - [Limiter.Admit] does both in one round trip.
//
// Each check is atomic across all scopes: either every scope admits and is
// charged, or none is. A refusal is an [*Error] that matches
// [ErrRateLimited] or [ErrBudgetExceeded] with errors.Is and tells the scope
// and rule that refused and how long to wait.
//
// # Scopes and windows
//
// A Subject maps to up to four scopes: its caller, its group (if any), its
// tier, and the global scope; [Rules] give each its [Limits]. Rates are
// token buckets (GCRA in Redis). Budgets count in fixed UTC windows — the
// minute, the day, the calendar month — that reset when they end; holds of
// unsettled reservations carry over. Thresholds crossed by committed usage
// (50, 80, 100 % by default) are reported once per window through
// [Options.OnThreshold], across all replicas.
//
// # Stores
//
// [MemoryStore] serves one process (token buckets computed as
// golang.org/x/time/rate's, state kept per scope in a few adjacent cache
// lines, an injectable clock). [RedisStore] serves replicas: one Lua script, one
// round trip per check for all scopes (or for many checks: the checks that
// start while earlier ones are in flight go together, see
// [RedisOptions.MaxInFlight]), server time, keys under a prefix and one
// hash tag per call so that the script runs on Redis Cluster (see
// [RedisOptions.Tag] for the trade-off). Past one Redis primary's
// throughput, the way on is quota leasing: a replica takes a block of
// permits and spends it locally, trading a bounded overspend for fewer
// round trips. [RedisOptions.LeaseRequests] leases request rates (the bound
// is documented there; [RedisStore.Close] returns what is left); token and
// spend budgets are never leased and stay exact.
//
// # Failure policy
//
// A remote store that errs or exceeds [Options.Timeout] switches the limiter
// to its failure policy: fail closed (the default: [ErrLimiterUnavailable])
// or fail open under local in-memory limits ([Options.FailOpen]). While
// degraded, one call per [Options.ProbeInterval] tries the store again; the
// switch and the way back are reported through [Options.OnStoreChange], for
// the audit trail.
//
// # Example: limits shared by replicas
//
//	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
//	store, err := ratelimit.NewRedisStore(rdb, ratelimit.RedisOptions{})
//	lim, err := ratelimit.New(ratelimit.Options{
//		Store: store,
//		Rules: ratelimit.Rules{
//			Global:  ratelimit.Limits{TokensPerDay: 50_000_000, USDPerMonth: 5000},
//			Default: ratelimit.TierRules{Caller: ratelimit.Limits{
//				Requests:     []ratelimit.Rate{ratelimit.PerSecond(2), ratelimit.PerMinute(60)},
//				Concurrent:   4,
//				TokensPerDay: 200_000,
//			}},
//		},
//	})
package ratelimit

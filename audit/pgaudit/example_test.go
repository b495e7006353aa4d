package pgaudit_test

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/audit/pgaudit"
)

// Writing the audit trail to PostgreSQL in batches, behind an AsyncSink,
// and reading one caller's events back. (Not run as a test: it needs a
// server; pgaudit's tests run against DATABASE_URL.)
func ExampleOpen() {
	ctx := context.Background()
	pg, err := pgaudit.Open(ctx, os.Getenv("DATABASE_URL"), pgaudit.Options{Table: "secureai_audit"}) // migrates
	if err != nil {
		log.Fatal(err)
	}
	async, err := audit.NewAsyncSink(pg, audit.AsyncOptions{BatchSize: 1000}) // batches become COPYs
	if err != nil {
		log.Fatal(err)
	}
	defer async.Close(ctx) // flushes, then closes pg

	// ... secureai.New(secureai.WithAuditSink(async), ...) ...

	events, err := pg.Query(ctx, pgaudit.Filter{Caller: "u_5ae97841ab4a9daa653b274d6d1b452a", From: time.Now().Add(-24 * time.Hour)})
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("%d events", len(events))

	// Retention: delete what is older than 90 days, from a daily job.
	if _, err := pg.Prune(ctx, time.Now().AddDate(0, 0, -90)); err != nil {
		log.Fatal(err)
	}
}

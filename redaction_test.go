package secureai_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/secureai-go/secureai"
	"github.com/secureai-go/secureai/sanitize"
)

func TestRedaction(t *testing.T) {
	const awsKey = "AKIAIOSFODNN7EXAMPLE"
	const email = "jane.doe@example.com"
	t.Run("redact and restore", func(t *testing.T) {
		f := newFixture(t, secureai.WithRedaction(sanitize.Policy{Secrets: sanitize.Redact, PII: map[string]sanitize.Action{"email": sanitize.Pseudonymise}}))
		req := chatReq(chatModel)
		req.Messages[1].Content = "Mail " + email + " the key " + awsKey
		// The fake answers with what it got, so the pseudonym comes back.
		f.srv.SetReply("I will write to [EMAIL_1] now.")
		resp, err := f.client.CreateChatCompletion(f.ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		body := string(f.srv.Requests()[0].Body)
		if strings.Contains(body, awsKey) || strings.Contains(body, email) || !strings.Contains(body, "EMAIL_1") {
			t.Errorf("sent %s", body)
		}
		if got := resp.Choices[0].Message.Content; got != "I will write to "+email+" now." {
			t.Errorf("answer %q: pseudonym not restored", got)
		}
		kinds := map[string]int{}
		for _, fd := range f.rec.Last().Findings {
			kinds[fd.Kind+"/"+fd.Type] += fd.Count
		}
		if kinds["secret/aws_access_key_id"] != 1 || kinds["pii/email"] != 1 {
			t.Errorf("findings %v", kinds)
		}
		if strings.Contains(req.Messages[1].Content, "EMAIL") {
			t.Error("the caller's request was changed")
		}
	})
	t.Run("block", func(t *testing.T) {
		f := newFixture(t, secureai.WithRedaction(sanitize.Policy{Secrets: sanitize.Block}))
		req := chatReq(chatModel)
		req.Messages[1].Content = "my key is " + awsKey
		_, err := f.client.CreateChatCompletion(f.ctx, req)
		e, _ := errors.AsType[*secureai.Error](err)
		if !errors.Is(err, secureai.ErrInputRejected) || e.Reason != "secret_aws_access_key_id" || len(f.srv.Requests()) != 0 {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("secret in the answer", func(t *testing.T) {
		f := newFixture(t, secureai.WithRedaction(sanitize.DefaultPolicy()))
		f.srv.SetReply("Use " + awsKey + " to log in.")
		resp, err := f.client.CreateChatCompletion(f.ctx, chatReq(chatModel))
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Choices[0].Message.Content; strings.Contains(got, awsKey) {
			t.Errorf("answer kept the key: %q", got)
		}
	})
}

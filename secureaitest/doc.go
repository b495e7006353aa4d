// Package secureaitest provides fakes for testing code that uses secureai,
// for the tests of secureai's users and for secureai's own.
//
// # Fake OpenAI server
//
// [Server] is a fake of the OpenAI API that speaks the real wire format of
// four endpoints: chat completions and responses (plain JSON, or streamed as
// server-sent events exactly as the real API frames them), embeddings and
// moderations. Its answers have the same field names, nesting and headers as
// recorded answers of the real API, so that a client that works against the
// fake meets no surprise from the real one. It answers with a fixed text
// ([Server.SetReply]) and deterministic token counts, ids and vectors.
//
// A Server records what it receives ([Server.Requests]), including the
// Authorization header, so that a test can assert which key left the
// process, and it can be scripted, one request at a time, to fail the way
// the real API and the network fail ([Server.Enqueue], [Fault]): HTTP errors
// with OpenAI's error bodies, Retry-After headers, latency, connection
// resets, streams cut short, and a broken proxy that echoes the request.
//
// Tests call [NewServer], which closes the Server at the end of the test;
// examples and programs call [StartServer] and Close the Server themselves.
// Point go-openai at it with its ClientConfig:
//
//	s := secureaitest.NewServer(t)
//	cfg := openai.DefaultConfig("sk-test-key")
//	cfg.BaseURL = s.URL()
//	client := openai.NewClientWithConfig(cfg)
//
// To reach the Server without sockets, for example inside a testing/synctest
// bubble where latency passes in fake time, also set
//
//	cfg.HTTPClient = &http.Client{Transport: s.Transport()}
//
// # Other fakes
//
// [Keys] is a fake key provider and [AuditRecorder] an audit sink that keeps
// events in memory.
package secureaitest

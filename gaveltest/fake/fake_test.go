package fake_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/gavelrtc/gavel/client"
	"github.com/gavelrtc/gavel/core"
	"github.com/gavelrtc/gavel/gaveltest"
	"github.com/gavelrtc/gavel/gaveltest/fake"
	"github.com/gavelrtc/gavel/internal/leakcheck"
	"github.com/gavelrtc/gavel/internal/testwait"
	"github.com/gavelrtc/gavel/session"
	"github.com/gavelrtc/gavel/session/storetest"
	"github.com/gavelrtc/gavel/sessionlog"
)

// TestRetry is the property of Example_retry: rapid draws the sessions and
// the faults, and shrinks a failure.
func TestRetry(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		if err := checkRetry(gaveltest.Sessions(presets).Draw(t, "session"), faults.Draw(t, "faults"), false); err != nil {
			t.Fatal(err)
		}
	})
}

// TestStoreConforms: with no fault, a Store is a store, over a store that
// has every capability and over one that has none.
func TestStoreConforms(t *testing.T) {
	t.Run("MemStore", func(t *testing.T) {
		storetest.Run(t, func(*testing.T) session.Store { return fake.NewStore(session.NewMemStore()) })
	})
	t.Run("bare", func(t *testing.T) {
		storetest.Run(t, func(*testing.T) session.Store { return fake.NewStore(bare{session.NewMemStore()}) })
	})
}

// bare is a store without the optional capabilities.
type bare struct{ session.Store }

var header = sessionlog.Header{Session: "room-1", Presets: presets}

func rec(id string) sessionlog.Record {
	return sessionlog.Record{Command: core.Command{ID: id, Type: core.SetAudio, Actor: "alice"}}
}

func count(t *testing.T, st session.Store) int {
	t.Helper()
	n := 0
	for _, err := range st.Records(t.Context(), "room-1", 1) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// TestFaults makes each fault happen to one append and checks what is
// stored and what is answered.
func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		fault     fake.Fault
		want      error // matched with errors.Is
		stored    bool
		permanent bool
	}{
		{fake.None, nil, true, false},
		{fake.Fail, fake.ErrUnavailable, false, false},
		{fake.LoseReply, fake.ErrUnavailable, true, false},
		{fake.Conflict, session.ErrConflict, false, false},
		{fake.TooLarge, session.ErrTooLarge, false, true},
	} {
		t.Run(tc.fault.String(), func(t *testing.T) {
			st := fake.NewStore(session.NewMemStore())
			if err := st.Create(t.Context(), header); err != nil {
				t.Fatal(err)
			}
			st.Inject(2, tc.fault)
			if _, err := st.Append(t.Context(), "room-1", 0, rec("c1")); err != nil {
				t.Fatal(err)
			}
			_, err := st.AppendBatch(t.Context(), "room-1", 1, []sessionlog.Record{rec("c2"), rec("c3")})
			if (tc.want == nil) != (err == nil) || !errors.Is(err, tc.want) || errors.Is(err, session.ErrPermanent) != tc.permanent {
				t.Errorf("append: %v, want %v (permanent %v)", err, tc.want, tc.permanent)
			}
			if got, want := count(t, st), map[bool]int{true: 3, false: 1}[tc.stored]; got != want {
				t.Errorf("%d records stored, want %d", got, want)
			}
			if _, err := st.Append(t.Context(), "room-1", sessionlog.Position(count(t, st)), rec("c4")); err != nil || st.Appends() != 3 {
				t.Errorf("the append after: %v; %d appends", err, st.Appends())
			}
		})
	}
}

// TestInjectFunc fails the appends a function picks by their records.
func TestInjectFunc(t *testing.T) {
	st := fake.NewStore(session.NewMemStore())
	if err := st.Create(t.Context(), header); err != nil {
		t.Fatal(err)
	}
	var seen []int
	st.InjectFunc(func(n int, recs []sessionlog.Record) fake.Fault {
		seen = append(seen, n)
		if strings.HasPrefix(recs[0].Command.ID, "big") {
			return fake.TooLarge
		}
		return fake.None
	})
	st.Inject(3, fake.Fail) // Inject decides before the function
	for i, id := range []string{"c1", "big2", "c3", "c4"} {
		_, err := st.Append(t.Context(), "room-1", sessionlog.Position(count(t, st)), rec(id))
		if want := map[int]error{1: session.ErrTooLarge, 2: fake.ErrUnavailable}[i]; !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("append of %s: %v, want %v", id, err, want)
		}
	}
	if got := count(t, st); got != 2 || !slices.Equal(seen, []int{1, 2, 4}) {
		t.Errorf("%d stored; the function saw appends %v", got, seen)
	}
}

// TestHold holds an append in flight until the test releases it, or its
// context ends.
func TestHold(t *testing.T) {
	st := fake.NewStore(session.NewMemStore())
	if err := st.Create(t.Context(), header); err != nil {
		t.Fatal(err)
	}
	reached, release := st.Hold(1)
	done := make(chan error, 1)
	go func() {
		_, err := st.Append(t.Context(), "room-1", 0, rec("c1"))
		done <- err
	}()
	testwait.Recv(t, reached, "the held append")
	if n := count(t, st); n != 0 {
		t.Fatalf("%d records while the append is held", n)
	}
	release()
	release() // twice is harmless
	if err := testwait.Recv(t, done, "the released append"); err != nil || count(t, st) != 1 {
		t.Fatalf("released: %v, %d records", err, count(t, st))
	}

	reached, release = st.Hold(2)
	defer release()
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		_, err := st.Append(ctx, "room-1", 1, rec("c2"))
		done <- err
	}()
	testwait.Recv(t, reached, "the held append")
	cancel()
	if err := testwait.Recv(t, done, "the cancelled append"); !errors.Is(err, context.Canceled) || count(t, st) != 1 {
		t.Fatalf("cancelled while held: %v, %d records", err, count(t, st))
	}
}

// TestDisconnect fails every call until Reconnect.
func TestDisconnect(t *testing.T) {
	st := fake.NewStore(session.NewMemStore())
	if err := st.Create(t.Context(), header); err != nil {
		t.Fatal(err)
	}
	st.Disconnect()
	ctx := t.Context()
	_, errAppend := st.Append(ctx, "room-1", 0, rec("c1"))
	_, errHeader := st.Header(ctx, "room-1")
	_, errSnap := st.LatestSnapshot(ctx, "room-1")
	var errRead, errList error
	for _, err := range st.Records(ctx, "room-1", 1) {
		errRead = err
	}
	for _, err := range st.Sessions(ctx) {
		errList = err
	}
	for name, err := range map[string]error{"Append": errAppend, "Header": errHeader, "LatestSnapshot": errSnap,
		"Records": errRead, "Sessions": errList, "Create": st.Create(ctx, header),
		"SaveSnapshot": st.SaveSnapshot(ctx, "room-1", session.Snapshot{})} {
		if !errors.Is(err, fake.ErrUnavailable) || errors.Is(err, session.ErrPermanent) {
			t.Errorf("%s while disconnected: %v", name, err)
		}
	}
	st.Reconnect()
	if _, err := st.Append(ctx, "room-1", 0, rec("c1")); err != nil || st.Appends() != 2 {
		t.Errorf("after Reconnect: %v, %d appends", err, st.Appends())
	}
}

// TestServer: the Go client dials a server and is told of a command the
// session took from elsewhere; faults in the server's store reach it as
// the transport carries them; everything stops with the test.
func TestServer(t *testing.T) {
	leakcheck.Check(t)
	clock := fake.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	srv := fake.NewServer(t, presets, fake.WithClock(clock), fake.WithSessionOptions(session.WithIdleTimeout(0)))
	ctx := testwait.Context(t)
	bob, err := client.Dial(ctx, srv.URL, srv.Token("room-1", "bob", "host"))
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	srv.Store.Inject(srv.Store.Appends()+1, fake.TooLarge)
	if err := bob.Self.EnableAudio(ctx); !errors.Is(err, client.ErrFailed) {
		t.Errorf("a command the store refuses for good: %v", err)
	}
	if err := bob.Self.EnableAudio(ctx); err != nil {
		t.Errorf("the next: %v", err)
	}
	recs := 0
	for r, err := range srv.Store.Records(ctx, "room-1", 1) {
		if err != nil {
			t.Fatal(err)
		}
		if !r.At.Equal(clock.Now()) {
			t.Errorf("record at %v, the clock says %v", r.At, clock.Now())
		}
		recs++
	}
	if recs != 2 {
		t.Errorf("%d records, want bob's join and his audio", recs)
	}

	// Tokens expire on the server's clock.
	tok := srv.Token("room-1", "carol", "attendee")
	clock.Advance(2 * time.Hour)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http"+strings.TrimPrefix(srv.URL, "ws")+"?token="+tok, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("a token expired on the clock: HTTP %d, want 401", res.StatusCode)
	}
	defer func() {
		if recover() == nil {
			t.Error("Token with no preset did not panic")
		}
	}()
	srv.Token("room-1", "dave", "")
}

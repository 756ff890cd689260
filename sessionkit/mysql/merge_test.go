package mysql

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// keySet is the session format of the merge tests: sorted keys joined by
// commas (the store does not read a session's data; only the kit's Merge
// does).
func keySet(keys ...string) []byte {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	return []byte(strings.Join(slices.Compact(keys), ","))
}

func keysOf(data []byte) []string {
	if len(data) == 0 {
		return nil
	}
	return strings.Split(string(data), ",")
}

// saveAdding is the Save of a request that added key to what it read.
func saveAdding(key string) Save {
	return Save{Changed: true, Merge: func(stored []byte) ([]byte, string, error) {
		return keySet(append(keysOf(stored), key)...), "", nil
	}}
}

// concurrentAdds runs n requests of one session at once, through stores
// in turn, each finding the session and saving it with a key of its own
// added, and returns the keys the session holds afterwards.
func concurrentAdds(t *testing.T, stores []*Store, token string, n int) []string {
	t.Helper()
	expiry := time.Now().Add(time.Hour)
	if err := stores[0].Commit(token, keySet("start"), expiry); err != nil {
		t.Fatal(err)
	}
	ctxs := make([]context.Context, n)
	read := make([][]byte, n)
	for i := range n {
		ctxs[i] = WithRequest(context.Background(), nil)
		b, found, err := stores[i%len(stores)].FindCtx(ctxs[i], token)
		if err != nil || !found {
			t.Fatalf("Find %d: %v %v", i, found, err)
		}
		read[i] = b
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprint("k", i)
			ctxs[i].Value(requestKey{}).(*Request).Saving(saveAdding(key))
			if err := stores[i%len(stores)].CommitCtx(ctxs[i], token, keySet(append(keysOf(read[i]), key)...), expiry); err != nil {
				t.Errorf("Commit %d: %v", i, err)
			}
			if SessionEnded(ctxs[i]) {
				t.Errorf("Commit %d: the session ended", i)
			}
		}()
	}
	wg.Wait()
	b, found, err := stores[0].Find(token)
	if err != nil || !found {
		t.Fatalf("Find after: %v %v", found, err)
	}
	return keysOf(b)
}

// checkAllKeys fails unless keys holds start and k0..k(n-1).
func checkAllKeys(t *testing.T, keys []string, n int) {
	t.Helper()
	want := []string{"start"}
	for i := range n {
		want = append(want, fmt.Sprint("k", i))
	}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("the session holds %d keys, want %d: %v", len(keys), len(want), keys)
	}
}

// TestConcurrentSavesMerge: n requests of one session save at once, each
// having added a key of its own to what it read, through one store (with
// and without batching, where saves of one session share a statement) or
// two on one table. Each save is merged with those before it: no key is
// lost.
func TestConcurrentSavesMerge(t *testing.T) {
	t.Parallel()
	for _, setup := range []string{"batched", "unbatched", "two stores"} {
		t.Run(setup, func(t *testing.T) {
			t.Parallel()
			var stores []*Store
			switch setup {
			case "batched":
				s, _ := batchingStore(t, tableDefinitions[0].ddl)
				stores = []*Store{s}
			case "unbatched":
				db := newDB(t, tableDefinitions[0].ddl)
				cfg := noCleanup()
				cfg.MaxInflight = 0
				s, err := NewWithConfig(db, cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				stores = []*Store{s}
			case "two stores":
				db := newDB(t, tableDefinitions[0].ddl)
				for range 2 {
					s, err := NewWithConfig(db, noCleanup())
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { s.Close() })
					stores = append(stores, s)
				}
			}
			for _, n := range []int{2, 8, 32} {
				checkAllKeys(t, concurrentAdds(t, stores, tokenFor("merge-"+fmt.Sprint(n), 0), n), n)
			}
		})
	}
}

// TestMergeThatFailsFailsItsSave: a Merge that returns an error, or a merge
// too large for the data column, fails that save with an error that says
// so, and the session keeps what the other request saved.
func TestMergeThatFailsFailsItsSave(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, tableDefinitions[0].ddl)
	defer s.Close()
	expiry := time.Now().Add(time.Hour)
	token := tokenFor("merge-fails", 0)
	if err := s.Commit(token, []byte("start"), expiry); err != nil {
		t.Fatal(err)
	}
	ctx := WithRequest(context.Background(), nil)
	if _, _, err := s.FindCtx(ctx, token); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(token, []byte("saved by another request"), expiry); err != nil {
		t.Fatal(err)
	}
	ctx.Value(requestKey{}).(*Request).Saving(Save{Changed: true, Merge: func([]byte) ([]byte, string, error) {
		return nil, "", fmt.Errorf("cannot decode the session")
	}})
	err := s.CommitCtx(ctx, token, []byte("mine"), expiry)
	if err == nil || !strings.Contains(err.Error(), "merging") || !strings.Contains(err.Error(), "cannot decode the session") {
		t.Fatalf("Commit = %v; want an error that says the merge failed, and why", err)
	}
	if b, _, _ := s.Find(token); string(b) != "saved by another request" {
		t.Fatalf("the session holds %q after a failed merge", b)
	}
}

// TestGaleraConcurrentSavesMerge: as TestConcurrentSavesMerge, with the
// requests spread over the three nodes of a cluster, where two saves of
// one session on two nodes meet as a certification conflict.
func TestGaleraConcurrentSavesMerge(t *testing.T) {
	stores, _ := galeraStores(t, nil)
	for _, n := range []int{2, 8, 32} {
		checkAllKeys(t, concurrentAdds(t, stores, tokenFor("galera-merge", n), n), n)
	}
}

// TestMergeTooLargeFailsItsSave: a merge larger than the data column holds
// (a BLOB here) fails its save with ErrTooLarge, and the session keeps what
// the other request saved.
func TestMergeTooLargeFailsItsSave(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, []string{scsREADMETable})
	defer s.Close()
	expiry := time.Now().Add(time.Hour)
	token := tokenFor("merge-large", 0)
	if err := s.Commit(token, []byte("start"), expiry); err != nil {
		t.Fatal(err)
	}
	ctx := WithRequest(context.Background(), nil)
	if _, _, err := s.FindCtx(ctx, token); err != nil {
		t.Fatal(err)
	}
	other := strings.Repeat("o", 40000)
	if err := s.Commit(token, []byte(other), expiry); err != nil {
		t.Fatal(err)
	}
	ctx.Value(requestKey{}).(*Request).Saving(Save{Changed: true, Merge: func(stored []byte) ([]byte, string, error) {
		return append(stored, strings.Repeat("m", 40000)...), "", nil
	}})
	if err := s.CommitCtx(ctx, token, []byte(strings.Repeat("m", 40000)), expiry); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Commit = %v; want ErrTooLarge for the merge", err)
	}
	if b, _, _ := s.Find(token); string(b) != other {
		t.Fatalf("the session holds %d bytes after a refused merge, want the other request's %d", len(b), len(other))
	}
}

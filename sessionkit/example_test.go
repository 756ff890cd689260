package sessionkit_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"

	"sessionkit.dev/sessionkit"
)

// A chi server whose sessions live in MySQL: set SESSION_MYSQL_DSN (for
// example app:secret@tcp(127.0.0.1:3306)/app) and, on a first run,
// SESSION_CREATE_TABLE=true.
func ExampleFromEnv_chi() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	kit, err := sessionkit.FromEnv(ctx)
	if err != nil {
		log.Fatal(err)
	}

	r := chi.NewRouter()
	r.Use(kit.Middleware)
	r.Get("/put", func(w http.ResponseWriter, r *http.Request) {
		kit.Manager.Put(r.Context(), "message", "Hello from a session!")
	})
	r.Get("/get", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, kit.Manager.GetString(r.Context(), "message"))
	})
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := kit.Ready(r.Context()); err != nil {
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		}
	})

	srv := &http.Server{Addr: ":4000", Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	<-ctx.Done()

	// The server first, then the kit, in one budget under the 10s that
	// docker stop waits.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 9*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		slog.Error("http shutdown", "err", err)
	}
	if err := kit.Shutdown(shutdownCtx); err != nil {
		slog.Error("session shutdown", "err", err)
	}
}

// The same server on the standard library's ServeMux: the kit's middleware
// wraps the whole mux.
func ExampleFromEnv_nethttp() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	kit, err := sessionkit.FromEnv(ctx)
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /put", func(w http.ResponseWriter, r *http.Request) {
		kit.Manager.Put(r.Context(), "message", "Hello from a session!")
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, kit.Manager.GetString(r.Context(), "message"))
	})

	srv := &http.Server{Addr: ":4000", Handler: kit.Middleware(mux), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	<-ctx.Done()

	shutdownCtx, cancel := context.WithTimeout(context.Background(), 9*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	kit.Shutdown(shutdownCtx)
}

// Shutdown comes after http.Server.Shutdown: the server stops accepting
// and waits for its handlers, then the kit waits for the last sessions to
// be saved, stops its cleanup and closes its pool. (The memory store keeps
// this example self-contained.)
func ExampleKit_Shutdown() {
	cfg, err := sessionkit.LoadConfigFrom(map[string]string{"SESSION_STORE": "memory", "SESSION_COOKIE_SECURE": "false"})
	if err != nil {
		log.Fatal(err)
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	kit, err := sessionkit.New(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
		kit.Manager.Put(r.Context(), "message", "hello")
		io.WriteString(w, "stored")
	})
	srv := &http.Server{Handler: kit.Middleware(mux), ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	client := &http.Client{Transport: &http.Transport{}}
	resp, err := client.Get("http://" + ln.Addr().String() + "/put")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, string(body), len(resp.Cookies()), "cookie")
	client.CloseIdleConnections()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fmt.Println("server:", srv.Shutdown(ctx), <-served)
	fmt.Println("kit:", kit.Shutdown(ctx))
	// Output:
	// 200 OK stored 1 cookie
	// server: <nil> http: Server closed
	// kit: <nil>
}

// A "your sessions" feature: Login after the password check, Sessions for
// the list, RevokeOthers for "log out everywhere else". (The memory store
// keeps this example self-contained; with MySQL the list also has each
// session's address, user agent and times.)
func ExampleKit_Login() {
	cfg, err := sessionkit.LoadConfigFrom(map[string]string{"SESSION_STORE": "memory", "SESSION_COOKIE_SECURE": "false"})
	if err != nil {
		log.Fatal(err)
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	kit, err := sessionkit.New(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer kit.Shutdown(context.Background())

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// ... check the password, then:
		if err := kit.Login(r.Context(), r.PostFormValue("user")); err != nil {
			http.Error(w, "could not log in", http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("GET /sessions", func(w http.ResponseWriter, r *http.Request) {
		sessions, err := kit.Sessions(r.Context(), kit.UserID(r.Context()))
		if err != nil {
			http.Error(w, "could not list sessions", http.StatusInternalServerError)
			return
		}
		here := 0
		for _, s := range sessions {
			// A page shows s.UserAgent, s.IP and s.LastSeen, and a form
			// posts s.ID for kit.Revoke.
			if s.Current {
				here++
			}
		}
		fmt.Fprintf(w, "%d sessions, %d of them on this device\n", len(sessions), here)
	})
	mux.HandleFunc("POST /sessions/revoke-others", func(w http.ResponseWriter, r *http.Request) {
		n, err := kit.RevokeOthers(r.Context())
		if err != nil {
			http.Error(w, "could not log out the other sessions", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%d other sessions logged out\n", n)
	})
	srv := httptest.NewServer(kit.Middleware(mux))
	defer srv.Close()

	laptop, phone := browser(), browser()
	laptop.PostForm(srv.URL+"/login", url.Values{"user": {"ada"}})
	phone.PostForm(srv.URL+"/login", url.Values{"user": {"ada"}})
	show(laptop.Get(srv.URL + "/sessions"))
	show(laptop.Post(srv.URL+"/sessions/revoke-others", "", nil))
	show(laptop.Get(srv.URL + "/sessions"))
	// Output:
	// 2 sessions, 1 of them on this device
	// 1 other sessions logged out
	// 1 sessions, 1 of them on this device
}

// browser is a client with a cookie jar of its own.
func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

// show prints a response's body.
func show(resp *http.Response, err error) {
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(os.Stdout, resp.Body)
}

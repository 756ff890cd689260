module sessionkit.dev/examples/browser

go 1.25

replace sessionkit.dev => ../..

require (
	github.com/chromedp/cdproto v0.159.0
	github.com/chromedp/chromedp v0.23.0
	sessionkit.dev v0.0.0
)

require (
	filippo.io/edwards25519 v1.2.0 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/go-sql-driver/mysql v1.10.1 // indirect
	go.uber.org/goleak v1.3.0 // indirect
)

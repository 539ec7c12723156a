package admin

import (
	"embed"
	"mime"
	"path"

	"github.com/valyala/fasthttp"
)

// The dashboard at /ui: static files built into the binary (ui/), a
// single page in plain JavaScript that reads the native API. Nothing is
// fetched from anywhere but this port, so it works with no internet
// access, and the Content-Security-Policy says so to the browser.
//
//	GET  /ui/           the page (index.html); /ui redirects here
//	GET  /ui/{file}     app.js, app.css
//	GET  /ui/session    UISession: is a login needed, is this browser logged in
//	POST /ui/login      {"secret":".."}: a login cookie and UISession
//	POST /ui/logout     forget this browser's login (needs X-CSRF-Token)

//go:embed ui/index.html ui/app.js ui/app.css
var uiFiles embed.FS

const uiPath = "/ui"

// uiCSP lets the page load only its own files and talk only to this port.
const uiCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// serveUI serves /ui and below.
func (s *Server) serveUI(ctx *fasthttp.RequestCtx, p string) {
	switch p {
	case uiPath:
		ctx.Redirect(uiPath+"/", fasthttp.StatusMovedPermanently)
		return
	case uiPath + "/session":
		s.serveUISession(ctx)
		return
	case uiPath + "/login":
		s.serveLogin(ctx)
		return
	case uiPath + "/logout":
		s.serveLogout(ctx)
		return
	}
	if !ctx.IsGet() && !ctx.IsHead() {
		s.methodNotAllowed(ctx, "GET", p)
		return
	}
	name := p[len(uiPath)+1:]
	if name == "" {
		name = "index.html"
	}
	b, err := uiFiles.ReadFile("ui/" + name)
	if err != nil || path.Base(name) != name {
		nativeError(ctx, fasthttp.StatusNotFound, "not_found", "admin: no dashboard file "+quote([]byte(name)))
		return
	}
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", uiCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
	ctx.SetContentType(mime.TypeByExtension(path.Ext(name)))
	ctx.SetBody(b)
}

use crate::helpers::spawn_app;

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in ["/", "/r/general", "/healthz", "/nope.js"] {
        let response = app.get(path).await;
        let headers = response.headers();
        let csp = headers
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(
            headers.get("x-content-type-options").map(|v| v.as_bytes()),
            Some(&b"nosniff"[..])
        );
    }
}

#[tokio::test]
async fn the_app_is_served_at_the_root_and_at_a_room_url() {
    let app = spawn_app().await;
    for path in ["/", "/r/general", "/r/Some%20Room"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let kind = response.headers().get("content-type").and_then(|v| v.to_str().ok());
        assert_eq!(kind, Some("text/html"), "{path}");
    }
}

#[tokio::test]
async fn an_unknown_file_is_404() {
    let app = spawn_app().await;
    assert_eq!(app.get("/does-not-exist.js").await.status(), 404);
}

#[tokio::test]
async fn the_manifest_icons_and_service_worker_are_served_with_their_types() {
    let app = spawn_app().await;
    let files = [
        ("/manifest.webmanifest", "application/manifest+json"),
        ("/sw.js", "text/javascript"),
        ("/icon-192.png", "image/png"),
        ("/icon-512.png", "image/png"),
        ("/icon-maskable-512.png", "image/png"),
        ("/apple-touch-icon.png", "image/png"),
        ("/favicon.svg", "image/svg+xml"),
    ];
    for (path, kind) in files {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        assert_eq!(headers.get("content-type").and_then(|v| v.to_str().ok()), Some(kind), "{path}");
        // The worker must be re-checked on every visit, or a deploy would go unnoticed.
        assert_eq!(
            headers.get("cache-control").and_then(|v| v.to_str().ok()),
            Some("no-cache"),
            "{path}"
        );
    }
}

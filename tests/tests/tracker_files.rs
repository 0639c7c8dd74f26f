//! The built tracker as a browser downloads it: `scripts/build-tracker.sh` writes `ssrm.js` and
//! `ssrm_bg.wasm` with brotli (`.br`) and gzip (`.gz`) forms beside them, and the server sends
//! exactly those bytes by `Accept-Encoding`, compressing nothing on the fly.

use ssrm_tests::{repository_root, spawn_app};

#[tokio::test]
async fn each_accept_encoding_gets_the_precompressed_bytes_on_disk_with_its_own_etag() {
    let app = spawn_app().await;
    let dir = repository_root().join("www/tracker");
    // (Accept-Encoding sent, file expected, Content-Encoding expected)
    let cases = [
        (Some("br"), ".br", Some("br")),
        (Some("gzip"), ".gz", Some("gzip")),
        (Some("gzip, deflate, br, zstd"), ".br", Some("br")), // what Chromium sends
        (Some("br;q=0, gzip"), ".gz", Some("gzip")),
        // The plain file says `identity`, so the app's Compress middleware leaves it alone.
        (Some("identity"), "", Some("identity")),
        (Some("deflate"), "", Some("identity")),
        (None, "", Some("identity")),
    ];
    for name in ["ssrm.js", "ssrm_bg.wasm"] {
        let mut etags = std::collections::BTreeMap::new();
        for (accept, suffix, encoding) in cases {
            let path = dir.join(format!("{name}{suffix}"));
            let on_disk = std::fs::read(&path).unwrap_or_else(|error| {
                panic!("{}: {error}; run scripts/build-tracker.sh", path.display())
            });
            let mut request = app.client.get(app.url(name));
            if let Some(accept) = accept {
                request = request.header("accept-encoding", accept);
            }
            let response = request.send().await.expect("request");
            assert_eq!(response.status(), 200, "{name} {accept:?}");
            let headers = response.headers().clone();
            let sent_encoding = headers
                .get("content-encoding")
                .map(|value| value.to_str().expect("ASCII"));
            assert_eq!(sent_encoding, encoding, "{name} {accept:?}");
            assert_eq!(headers["vary"], "Accept-Encoding", "{name} {accept:?}");
            let etag = headers["etag"].clone();
            let body = response.bytes().await.expect("body");
            assert!(
                body[..] == on_disk[..],
                "{name} {accept:?}: {} bytes sent, {} bytes in {}",
                body.len(),
                on_disk.len(),
                path.display()
            );
            // A cached copy of this encoding is revalidated by its own ETag.
            let mut revalidate = app
                .client
                .get(app.url(name))
                .header("if-none-match", etag.clone());
            if let Some(accept) = accept {
                revalidate = revalidate.header("accept-encoding", accept);
            }
            let revalidated = revalidate.send().await.expect("request");
            assert_eq!(revalidated.status(), 304, "{name} {accept:?}");
            etags.insert(suffix, etag);
        }
        let distinct: std::collections::BTreeSet<_> = etags.values().collect();
        assert_eq!(
            distinct.len(),
            3,
            "one ETag per encoding of {name}: {etags:?}"
        );
    }
}

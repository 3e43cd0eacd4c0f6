//! Bookmark import and export on the real server: each format round-trips,
//! CSV cells cannot run as formulas, browser exports (Chrome, Firefox) and
//! ClawChives exports import, hostile Netscape files import inert, and
//! import sessions hand out a write-only key that closing revokes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use common::chat::call;
use common::identity::{audit_rows, bearer, installation, tokens};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const BM: &str = "/api/v1/bookmarks";

async fn export(server: &Server, token: &str, format: &str) -> (String, String) {
    let r = bearer(
        server,
        token,
        Method::GET,
        &format!("{BM}/export?format={format}"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(disposition.starts_with("attachment"));
    assert_eq!(r.headers()["content-security-policy"], "sandbox");
    let ctype = r.headers()["content-type"].to_str().unwrap().to_string();
    (ctype, r.text().await.unwrap())
}

async fn import(server: &Server, token: &str, format: &str, body: &str) -> (StatusCode, Value) {
    let r = bearer(
        server,
        token,
        Method::POST,
        &format!("{BM}/import?format={format}"),
    )
    .body(body.to_string())
    .send()
    .await
    .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// A small library with nesting, colours, tags, flags and hostile text.
async fn library(server: &Server, token: &str) {
    let mk_folder = |name: &str, parent: Option<i64>, color: Option<&str>| {
        let body = json!({"name": name, "parent_id": parent, "color": color});
        async move {
            let (s, v) = call(server, token, Method::POST, "/api/v1/folders", Some(body)).await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
            v["id"].as_i64().unwrap()
        }
    };
    let work = mk_folder("Work", None, Some("#112233")).await;
    let deep = mk_folder("Deep & \"quoted\"", Some(work), None).await;
    mk_folder("Empty", Some(work), None).await;
    let items = json!([
        {"url": "https://top.example/", "title": "Top <b>bold</b>", "tags": ["a", "b"], "starred": true},
        {"url": "https://work.example/x?y=1&z=2", "title": "=HYPERLINK(\"http://evil\")",
         "description": "-2+3\nsecond line", "folder_id": work, "color": "#abcdef"},
        {"url": "https://deep.example/", "title": "@SUM(A1)", "description": "'quoted",
         "tags": ["+plus"], "folder_id": deep, "archived": true},
        {"url": "https://unicode.example/ü", "title": "Ünïcödé, \"commas\"", "folder_id": deep},
    ]);
    let (s, v) = call(
        server,
        token,
        Method::POST,
        &format!("{BM}/bulk"),
        Some(items),
    )
    .await;
    assert_eq!(
        (s, v["failed"].clone()),
        (StatusCode::MULTI_STATUS, json!(0)),
        "{v}"
    );
}

/// Bookmarks without ids, creators or folder ids; folder ids replaced by
/// their name paths.
async fn comparable(server: &Server, token: &str) -> Vec<Value> {
    let (_, folders) = call(server, token, Method::GET, "/api/v1/folders", None).await;
    let folders = folders.as_array().unwrap().clone();
    let path = |mut id: Value| {
        let mut names = Vec::new();
        while let Some(f) = folders.iter().find(|f| f["id"] == id) {
            names.insert(0, f["name"].as_str().unwrap().to_string());
            id = f["parent_id"].clone();
        }
        names
    };
    let (_, page) = call(server, token, Method::GET, &format!("{BM}?limit=200"), None).await;
    let mut out: Vec<Value> = page["bookmarks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let mut b = b.clone();
            let p = path(b["folder_id"].clone());
            let o = b.as_object_mut().unwrap();
            for k in ["id", "created_by", "folder_id"] {
                o.remove(k);
            }
            o.insert("folder".into(), json!(p));
            b
        })
        .collect();
    out.sort_by_key(|b| b["url"].as_str().unwrap().to_string());
    out
}

#[tokio::test]
async fn every_format_round_trips() {
    let (_env, server) = installation(&[
        ("olga", "owner"),
        ("ann", "member"),
        ("bob", "member"),
        ("cat", "member"),
    ]);
    let olga = tokens(&server, "olga").await.0;
    library(&server, &olga).await;
    let original = comparable(&server, &olga).await;
    assert_eq!(original.len(), 4);

    // Our JSON: the re-export is identical apart from the export time, so
    // folders (empty ones and colours included) and timestamps survive.
    let (ctype, json1) = export(&server, &olga, "json").await;
    assert!(ctype.starts_with("application/json"));
    let ann = tokens(&server, "ann").await.0;
    let (s, v) = import(&server, &ann, "json", &json1).await;
    assert_eq!(
        (s, v["imported"].clone(), v["failed"].clone()),
        (StatusCode::MULTI_STATUS, json!(4), json!(0)),
        "{v}"
    );
    let (_, json2) = export(&server, &ann, "json").await;
    let strip = |t: &str| {
        let mut v: Value = serde_json::from_str(t).unwrap();
        v.as_object_mut().unwrap().remove("exported_at");
        v
    };
    assert_eq!(strip(&json1), strip(&json2));
    assert_eq!(comparable(&server, &ann).await, original);
    // Importing the same file again: every item is a duplicate, nothing lost.
    let (_, v) = import(&server, &ann, "json", &json1).await;
    assert_eq!(
        (v["imported"].clone(), v["failed"].clone()),
        (json!(0), json!(4))
    );

    // Netscape HTML: byte for byte after a second trip.
    let (ctype, html1) = export(&server, &olga, "netscape").await;
    assert!(ctype.starts_with("text/html"));
    assert!(html1.starts_with("<!DOCTYPE NETSCAPE-Bookmark-file-1>"));
    assert!(html1.contains("Top &lt;b&gt;bold&lt;/b&gt;"));
    assert!(!html1.contains("<b>"));
    let bob = tokens(&server, "bob").await.0;
    let (s, v) = import(&server, &bob, "netscape", &html1).await;
    assert_eq!(
        (s, v["imported"].clone()),
        (StatusCode::MULTI_STATUS, json!(4)),
        "{v}"
    );
    let (_, html2) = export(&server, &bob, "netscape").await;
    assert_eq!(html1, html2);
    assert_eq!(comparable(&server, &bob).await, original);

    // CSV: every bookmark field and folder path survives.
    let (ctype, csv1) = export(&server, &olga, "csv").await;
    assert!(ctype.starts_with("text/csv"));
    let cat = tokens(&server, "cat").await.0;
    let (s, v) = import(&server, &cat, "csv", &csv1).await;
    assert_eq!(
        (s, v["imported"].clone()),
        (StatusCode::MULTI_STATUS, json!(4)),
        "{v}"
    );
    assert_eq!(comparable(&server, &cat).await, original);
    let (_, csv2) = export(&server, &cat, "csv").await;
    assert_eq!(csv1, csv2);
}

#[tokio::test]
async fn csv_cells_never_start_a_formula() {
    let (_env, server) = installation(&[("olga", "owner")]);
    let t = tokens(&server, "olga").await.0;
    library(&server, &t).await;
    let (_, text) = export(&server, &t, "csv").await;
    let mut r = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "url",
            "title",
            "description",
            "tags",
            "folder",
            "starred",
            "archived",
            "color",
            "created_at",
            "updated_at"
        ]
    );
    let mut cells = 0;
    for rec in r.records() {
        for cell in rec.unwrap().iter() {
            cells += 1;
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "formula cell: {cell:?}"
            );
        }
    }
    assert_eq!(cells, 40);
    assert!(text.contains("'=HYPERLINK"));
    assert!(text.contains("'@SUM(A1)"));
    assert!(text.contains("\"'-2+3\nsecond line\""));
    assert!(text.contains("'+plus"));
    assert!(text.contains("''quoted"));
    // RFC 4180: CRLF records, quotes doubled inside quoted fields.
    assert!(text.contains("\r\n"));
    assert!(text.contains("\"Ünïcödé, \"\"commas\"\"\""));
}

const CHROME_EXPORT: &str = r#"<!DOCTYPE NETSCAPE-Bookmark-file-1>
<!-- This is an automatically generated file.
     It will be read and overwritten.
     DO NOT EDIT! -->
<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">
<TITLE>Bookmarks</TITLE>
<H1>Bookmarks</H1>
<DL><p>
    <DT><H3 ADD_DATE="1699999999" LAST_MODIFIED="1700000000" PERSONAL_TOOLBAR_FOLDER="true">Bookmarks bar</H3>
    <DL><p>
        <DT><A HREF="https://www.rust-lang.org/" ADD_DATE="1700000001" ICON="data:image/png;base64,iVBORw0KGgo=">Rust Programming Language</A>
        <DT><H3 ADD_DATE="1700000002" LAST_MODIFIED="1700000003">News</H3>
        <DL><p>
            <DT><A HREF="https://news.ycombinator.com/" ADD_DATE="1700000004">Hacker News</A>
        </DL><p>
    </DL><p>
    <DT><A HREF="https://example.org/other" ADD_DATE="1700000005">Other bookmark</A>
</DL><p>
"#;

const FIREFOX_EXPORT: &str = r#"<!DOCTYPE NETSCAPE-Bookmark-file-1>
<!-- This is an automatically generated file.
     It will be read and overwritten.
     DO NOT EDIT! -->
<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'self'; script-src 'none'; img-src data: *; object-src 'none'"></meta>
<TITLE>Bookmarks</TITLE>
<H1>Bookmarks Menu</H1>

<DL><p>
    <DT><A HREF="https://support.mozilla.org/products/firefox" ADD_DATE="1700000000" LAST_MODIFIED="1700000001" ICON_URI="https://support.mozilla.org/favicon.ico">Get Help</A>
    <DT><H3 ADD_DATE="1700000000" LAST_MODIFIED="1700000010">Reading list</H3>
    <DD>Long reads for the weekend
    <DL><p>
        <DT><A HREF="https://blog.example/async" ADD_DATE="1700000002" LAST_MODIFIED="1700000003" TAGS="rust,async io">Async in depth</A>
        <DD>A long read about futures
        <DT><A HREF="place:sort=8&maxResults=10">Recent Tags</A>
    </DL><p>
    <DT><H3 ADD_DATE="1700000000" LAST_MODIFIED="1700000000" PERSONAL_TOOLBAR_FOLDER="true">Bookmarks Toolbar</H3>
    <DL><p>
        <DT><A HREF="https://www.mozilla.org/" ADD_DATE="1700000004">Mozilla</A>
    </DL><p>
</DL>
"#;

#[tokio::test]
async fn browser_and_clawchives_exports_import() {
    let (_env, server) = installation(&[("olga", "owner"), ("ann", "member"), ("bob", "member")]);
    let t = tokens(&server, "olga").await.0;
    let (s, v) = import(&server, &t, "netscape", CHROME_EXPORT).await;
    assert_eq!(
        (s, v["imported"].clone(), v["failed"].clone()),
        (StatusCode::MULTI_STATUS, json!(3), json!(0)),
        "{v}"
    );
    let (_, folders) = call(&server, &t, Method::GET, "/api/v1/folders", None).await;
    let names: Vec<&str> = folders
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Bookmarks bar", "News"]);
    let (_, page) = call(&server, &t, Method::GET, &format!("{BM}?q=hacker"), None).await;
    let hn = &page["bookmarks"][0];
    assert_eq!(hn["created_at"], 1_700_000_004);
    let news = folders
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "News")
        .unwrap();
    assert_eq!(hn["folder_id"], news["id"]);

    let ann = tokens(&server, "ann").await.0;
    let (s, v) = import(&server, &ann, "html", FIREFOX_EXPORT).await;
    assert_eq!(s, StatusCode::MULTI_STATUS, "{v}");
    assert_eq!(
        (v["imported"].clone(), v["failed"].clone()),
        (json!(3), json!(1))
    );
    assert!(
        v["errors"][0]["url"]
            .as_str()
            .unwrap()
            .starts_with("place:")
    );
    let (_, page) = call(
        &server,
        &ann,
        Method::GET,
        &format!("{BM}?tag=async-io"),
        None,
    )
    .await;
    let post = &page["bookmarks"][0];
    assert_eq!(post["tags"], json!(["rust", "async-io"]));
    assert_eq!(post["description"], "A long read about futures");

    // ClawChives: the bare array its settings page exports, and the
    // folder-carrying shape.
    let bob = tokens(&server, "bob").await.0;
    let bare = r#"[{"id":"8f1","url":"https://claw.example/a","title":"Pinch","description":"d",
        "favicon":"","tags":["Reef"],"folderId":null,"starred":true,"archived":false,
        "createdAt":"2024-05-01T10:00:00.000Z","updatedAt":"2024-05-02T10:00:00.000Z"}]"#;
    let (s, v) = import(&server, &bob, "clawchives", bare).await;
    assert_eq!(
        (s, v["imported"].clone()),
        (StatusCode::MULTI_STATUS, json!(1)),
        "{v}"
    );
    let wrapped = r##"{"bookmarks":[{"url":"https://claw.example/b","title":"Nested","folderId":"kid"},
        {"url":"javascript:alert(1)","title":"bad"}],
        "folders":[{"id":"top","name":"Reef","parentId":null,"color":"#FF0000"},
                   {"id":"kid","name":"Shells","parentId":"top"}]}"##;
    let (_, v) = import(&server, &bob, "clawchives", wrapped).await;
    assert_eq!(
        (v["imported"].clone(), v["failed"].clone()),
        (json!(1), json!(1)),
        "{v}"
    );
    let (_, folders) = call(&server, &bob, Method::GET, "/api/v1/folders", None).await;
    let reef = folders
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Reef")
        .unwrap();
    let shells = folders
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Shells")
        .unwrap();
    assert_eq!(reef["color"], "#ff0000");
    assert_eq!(shells["parent_id"], reef["id"]);
    let (_, page) = call(&server, &bob, Method::GET, BM, None).await;
    let pinch = page["bookmarks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["title"] == "Pinch")
        .unwrap();
    assert_eq!(pinch["created_at"], 1_714_557_600);
    assert_eq!(pinch["starred"], true);
    assert_eq!(pinch["tags"], json!(["reef"]));

    // Malformed files are refused whole, with a precise status.
    for (format, body, status) in [
        ("json", "{not json", StatusCode::UNPROCESSABLE_ENTITY),
        (
            "clawchives",
            "{\"bookmarks\": 3}",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "json",
            "{\"format\":\"other\",\"version\":1,\"exported_at\":0,\"folders\":[],\"bookmarks\":[]}",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("csv", "title\nx\n", StatusCode::UNPROCESSABLE_ENTITY),
        ("yaml", "", StatusCode::BAD_REQUEST),
    ] {
        let (s, v) = import(&server, &bob, format, body).await;
        assert_eq!(s, status, "{format}: {v}");
    }
    let r = bearer(
        &server,
        &bob,
        Method::POST,
        &format!("{BM}/import?format=json"),
    )
    .body(vec![0xff, 0xfe, 0x00])
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn hostile_netscape_files_import_inert() {
    let (_env, server) = installation(&[("olga", "owner")]);
    let t = tokens(&server, "olga").await.0;
    let hostile = r#"<!DOCTYPE NETSCAPE-Bookmark-file-1>
<DL><p>
    <DT><H3>&lt;img src=x onerror=alert(1)&gt;</H3>
    <DL><p>
        <DT><A HREF="https://a.example/" ONCLICK="alert(1)">&lt;script&gt;alert(1)&lt;/script&gt;</A>
        <DD>&lt;iframe src=javascript:alert(2)&gt;
        <DT><A HREF="javascript:alert(document.cookie)">Click me</A>
        <DT><A HREF=" JAVASCRIPT:alert(3)">spaced</A>
        <DT><A HREF="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</A>
        <DT><A HREF="vbscript:msgbox(1)">vb</A>
        <DT><A HREF="https://b.example/"><script>alert(4)</script><img src=x onerror=alert(5)>B</A>
    </DL><p>
</DL><p>
"#;
    let (s, v) = import(&server, &t, "netscape", hostile).await;
    assert_eq!(s, StatusCode::MULTI_STATUS, "{v}");
    assert_eq!(
        (v["imported"].clone(), v["failed"].clone()),
        (json!(2), json!(4)),
        "{v}"
    );
    let (_, page) = call(&server, &t, Method::GET, BM, None).await;
    let all = page["bookmarks"].as_array().unwrap();
    assert!(
        all.iter()
            .all(|b| b["url"].as_str().unwrap().starts_with("https://"))
    );
    let a = all
        .iter()
        .find(|b| b["url"] == "https://a.example/")
        .unwrap();
    // Kept as text, exactly as written: the UI inserts it with textContent.
    assert_eq!(a["title"], "<script>alert(1)</script>");
    assert_eq!(a["description"], "<iframe src=javascript:alert(2)>");
    let b = all
        .iter()
        .find(|b| b["url"] == "https://b.example/")
        .unwrap();
    assert_eq!(b["title"], "alert(4)B");
    let (_, folders) = call(&server, &t, Method::GET, "/api/v1/folders", None).await;
    assert_eq!(folders[0]["name"], "<img src=x onerror=alert(1)>");
    // And the export carries it escaped, never as markup.
    let (_, html) = export(&server, &t, "netscape").await;
    for bad in [
        "<script",
        "<img",
        "<iframe",
        "onclick",
        "ONCLICK",
        "javascript:alert(document",
    ] {
        assert!(!html.contains(bad), "{bad} in export");
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[tokio::test]
async fn import_sessions_issue_a_write_only_key_revoked_on_close() {
    let (env, server) = installation(&[("olga", "owner"), ("ann", "member")]);
    let t = tokens(&server, "olga").await.0;
    let ann = tokens(&server, "ann").await.0;
    let (s, opened) = call(
        &server,
        &t,
        Method::POST,
        &format!("{BM}/import-sessions"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{opened}");
    let key = opened["token"].as_str().unwrap().to_string();
    assert!(key.starts_with("lb-"));
    let sid = opened["session"]["id"].as_str().unwrap().to_string();
    let expires = opened["session"]["expires_at"].as_i64().unwrap();
    let created = opened["session"]["created_at"].as_i64().unwrap();
    assert_eq!(expires - created, 15 * 60);
    // The key is listed as bookmarks:write only; the token never again.
    let (_, keys) = call(&server, &t, Method::GET, "/api/v1/keys", None).await;
    let listed = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == opened["session"]["key_id"])
        .unwrap();
    assert_eq!(listed["permissions"], json!(["bookmarks:write"]));
    assert!(!keys.to_string().contains(&key));

    // Write-only: it cannot read, edit or delete.
    let (s, _) = call(&server, &key, Method::GET, BM, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let items = json!([{"url": "https://s1.example/"}, {"url": "ftp://bad.example/"}]);
    let (s, v) = call(
        &server,
        &key,
        Method::POST,
        &format!("{BM}/bulk"),
        Some(items),
    )
    .await;
    assert_eq!(s, StatusCode::MULTI_STATUS, "{v}");
    let file = "<DL><p><DT><A HREF=\"https://s2.example/\">two</A><DT><A HREF=\"https://s1.example/\">dup</A></DL>";
    let r = bearer(
        &server,
        &key,
        Method::POST,
        &format!("{BM}/import?format=netscape"),
    )
    .body(file)
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::MULTI_STATUS);

    // Only its owner closes it.
    let close = format!("{BM}/import-sessions/{sid}/close");
    let (s, _) = call(&server, &ann, Method::POST, &close, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, summary) = call(&server, &t, Method::POST, &close, None).await;
    assert_eq!(s, StatusCode::OK, "{summary}");
    assert_eq!(summary["imported"], 2);
    assert_eq!(summary["failed"], 2);
    let reasons: Vec<(u64, String)> = summary["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["index"].as_u64().unwrap(),
                e["url"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            (1, "ftp://bad.example/".to_string()),
            (1, "https://s1.example/".to_string())
        ]
    );
    assert!(summary["closed_at"].is_i64());
    // The key is dead at once (403 `key_revoked`).
    let (s, v) = call(
        &server,
        &key,
        Method::POST,
        &format!("{BM}/bulk"),
        Some(json!([])),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "key_revoked");
    // What it imported is olga's, attributed to the key.
    let (_, page) = call(&server, &t, Method::GET, BM, None).await;
    assert_eq!(page["bookmarks"].as_array().unwrap().len(), 2);
    assert!(
        page["bookmarks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["created_by"]["kind"] == "key")
    );
    drop(server);
    let audit = audit_rows(&env);
    for action in [
        "bookmark.import_session_open",
        "bookmark.import_session_close",
    ] {
        assert!(
            audit
                .iter()
                .any(|r| r.0 == action && r.3 == format!("import-session:{sid}")),
            "{action}"
        );
    }
}

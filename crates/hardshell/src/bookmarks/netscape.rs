//! Reading Netscape bookmark HTML (Chrome, Firefox, Safari and Edge
//! exports) with a real HTML parser (html5ever through `scraper`), never
//! with string matching.
//!
//! Walks the parsed tree: `<DT><H3>` opens a folder whose `<DL>` follows
//! (inside the `<DT>`, or inside a `<DD>` folder description), `<DT><A>` is
//! a bookmark, and a `<DD>` right after a bookmark is its description. Only
//! text and a few attributes are read; nothing in the file is ever kept as
//! markup, so hostile titles arrive as plain text.

use scraper::{ElementRef, Html, Node};

use super::import::{ImportItem, Parsed};

/// Unix seconds from `ADD_DATE`-style attributes; values in milliseconds
/// or microseconds are scaled down.
fn seconds(v: Option<&str>) -> Option<i64> {
    let mut n: i64 = v?.trim().parse().ok()?;
    while n > 100_000_000_000 {
        n /= 1000;
    }
    (n > 0).then_some(n)
}

/// What the last `<DT>` was, for the `<DD>` that may follow it.
enum Last {
    None,
    Bookmark(usize),
    Folder(Vec<(String, Option<String>)>),
}

/// The element's text without the text of nested lists.
fn own_text(el: ElementRef<'_>) -> String {
    let mut out = String::new();
    for child in el.children() {
        match child.value() {
            Node::Text(t) => out.push_str(t),
            Node::Element(e) if e.name() != "dl" => {
                if let Some(c) = ElementRef::wrap(child) {
                    out.extend(c.text());
                }
            }
            _ => {}
        }
    }
    out
}

struct Walker {
    out: Parsed,
    last: Last,
}

impl Walker {
    fn list(&mut self, el: ElementRef<'_>, path: &[(String, Option<String>)]) {
        for child in el.children().filter_map(ElementRef::wrap) {
            match child.value().name() {
                "dt" => self.entry(child, path),
                "dd" => self.description(child, path),
                _ => self.list(child, path),
            }
        }
    }

    fn entry(&mut self, dt: ElementRef<'_>, path: &[(String, Option<String>)]) {
        let mut inner: Option<Vec<(String, Option<String>)>> = None;
        for child in dt.children().filter_map(ElementRef::wrap) {
            match child.value().name() {
                "h3" => {
                    let name = child.text().collect::<String>();
                    let name = super::normalise::folder_name(&name)
                        .unwrap_or_else(|_| "Untitled folder".to_string());
                    let color = child.value().attr("hardshell_color").map(str::to_string);
                    let mut p = path.to_vec();
                    p.push((name, color));
                    self.out.folders.push(p.clone());
                    self.last = Last::Folder(p.clone());
                    inner = Some(p);
                }
                "a" => {
                    let a = child.value();
                    let flag = |n: &str| a.attr(n).is_some_and(|v| v.trim() == "1");
                    self.out.items.push(ImportItem {
                        url: a.attr("href").unwrap_or_default().to_string(),
                        title: Some(child.text().collect()),
                        description: None,
                        tags: a
                            .attr("tags")
                            .map(|t| t.split(',').map(str::to_string).collect())
                            .unwrap_or_default(),
                        folder: path.to_vec(),
                        starred: flag("hardshell_starred"),
                        archived: flag("hardshell_archived"),
                        color: a.attr("hardshell_color").map(str::to_string),
                        created_at: seconds(a.attr("add_date")),
                        updated_at: seconds(a.attr("last_modified")),
                    });
                    self.last = Last::Bookmark(self.out.items.len() - 1);
                }
                "dl" => {
                    let p = inner.clone().unwrap_or_else(|| path.to_vec());
                    self.list(child, &p);
                }
                "dd" => self.description(child, path),
                _ => {}
            }
        }
    }

    fn description(&mut self, dd: ElementRef<'_>, path: &[(String, Option<String>)]) {
        if let Last::Bookmark(i) = self.last
            && let Some(item) = self.out.items.get_mut(i)
        {
            item.description = Some(own_text(dd));
        }
        let folder = match &self.last {
            Last::Folder(p) => p.clone(),
            _ => path.to_vec(),
        };
        self.last = Last::None;
        for dl in dd
            .children()
            .filter_map(ElementRef::wrap)
            .filter(|c| c.value().name() == "dl")
        {
            self.list(dl, &folder);
        }
    }
}

/// Every folder and bookmark in a Netscape bookmark file.
pub fn parse(text: &str) -> Parsed {
    let doc = Html::parse_document(text);
    let mut w = Walker {
        out: Parsed::default(),
        last: Last::None,
    };
    // The top-level lists: a `<dl>` with no `<dl>` ancestor.
    for node in doc.root_element().descendants() {
        let Some(el) = ElementRef::wrap(node) else {
            continue;
        };
        if el.value().name() == "dl"
            && !el
                .ancestors()
                .filter_map(ElementRef::wrap)
                .any(|a| a.value().name() == "dl")
        {
            w.list(el, &[]);
        }
    }
    w.out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME: &str = r#"<!DOCTYPE NETSCAPE-Bookmark-file-1>
<!-- This is an automatically generated file. -->
<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">
<TITLE>Bookmarks</TITLE>
<H1>Bookmarks</H1>
<DL><p>
    <DT><H3 ADD_DATE="1700000000" LAST_MODIFIED="1700000001" PERSONAL_TOOLBAR_FOLDER="true">Bookmarks bar</H3>
    <DL><p>
        <DT><A HREF="https://www.rust-lang.org/" ADD_DATE="1700000002" ICON="data:image/png;base64,AAAA">Rust</A>
        <DT><H3 ADD_DATE="1700000003">Docs</H3>
        <DL><p>
            <DT><A HREF="https://docs.rs/" ADD_DATE="1700000004">Docs.rs</A>
        </DL><p>
    </DL><p>
    <DT><A HREF="https://example.com/" ADD_DATE="1700000005">Example &amp; co</A>
</DL><p>
"#;

    const FIREFOX: &str = r#"<!DOCTYPE NETSCAPE-Bookmark-file-1>
<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'self'; script-src 'none'; img-src data: *; object-src 'none'"></meta>
<TITLE>Bookmarks</TITLE>
<H1>Bookmarks Menu</H1>
<DL><p>
    <DT><H3 ADD_DATE="1700000000" LAST_MODIFIED="1700000000">Reading</H3>
    <DD>Things to read
    <DL><p>
        <DT><A HREF="https://blog.example/post" ADD_DATE="1700000001000000" LAST_MODIFIED="1700000002" TAGS="rust,Async IO">A post</A>
        <DD>Why async
is hard
        <DT><A HREF="place:sort=8&maxResults=10">Recent Tags</A>
    </DL><p>
    <DT><H3 ADD_DATE="1700000000" LAST_MODIFIED="1700000000" PERSONAL_TOOLBAR_FOLDER="true">Bookmarks Toolbar</H3>
    <DL><p>
        <DT><A HREF="https://mozilla.org/">Mozilla</A>
    </DL><p>
</DL>
"#;

    #[test]
    fn chrome_exports_keep_folders_titles_and_dates() {
        let p = parse(CHROME);
        let names: Vec<Vec<&str>> = p
            .folders
            .iter()
            .map(|f| f.iter().map(|(n, _)| n.as_str()).collect())
            .collect();
        assert_eq!(
            names,
            [vec!["Bookmarks bar"], vec!["Bookmarks bar", "Docs"]]
        );
        let urls: Vec<&str> = p.items.iter().map(|i| i.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://www.rust-lang.org/",
                "https://docs.rs/",
                "https://example.com/"
            ]
        );
        assert_eq!(p.items[1].folder.len(), 2);
        assert!(p.items[2].folder.is_empty());
        assert_eq!(p.items[2].title.as_deref(), Some("Example & co"));
        assert_eq!(p.items[0].created_at, Some(1_700_000_002));
    }

    #[test]
    fn firefox_exports_keep_tags_descriptions_and_folder_notes() {
        let p = parse(FIREFOX);
        assert_eq!(p.items.len(), 3);
        let post = &p.items[0];
        assert_eq!(post.folder[0].0, "Reading");
        assert_eq!(post.tags, ["rust", "Async IO"]);
        assert_eq!(
            post.description.as_deref().map(str::trim),
            Some("Why async\nis hard")
        );
        assert_eq!(post.created_at, Some(1_700_000_001));
        assert_eq!(p.items[1].url, "place:sort=8&maxResults=10");
        assert_eq!(p.items[2].folder[0].0, "Bookmarks Toolbar");
    }

    #[test]
    fn hostile_markup_arrives_as_text() {
        let p = parse(
            r#"<DL><p><DT><A HREF="https://x.example/">&lt;img src=x onerror=alert(1)&gt;</A>
            <DT><A HREF="https://y.example/"><script>alert(2)</script>Y</A>
            <DT><A HREF="javascript:alert(3)">click</A></DL>"#,
        );
        assert_eq!(
            p.items[0].title.as_deref(),
            Some("<img src=x onerror=alert(1)>")
        );
        assert_eq!(p.items[1].title.as_deref(), Some("alert(2)Y"));
        assert_eq!(p.items[2].url, "javascript:alert(3)");
    }
}

//! Times `split_html` on deeply nested markup (a worst case for HTML tree
//! builders). Run: cargo run --release -p promptguard --example split_deep -- 10000
fn main() {
    let depth: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    for tag in ["div", "b", "span", "table"] {
        let html = format!("<{tag}>").repeat(depth) + "deep";
        let t = std::time::Instant::now();
        let s = promptguard::split_html(&html);
        println!(
            "{tag} x {depth}: {:?}, visible {} bytes",
            t.elapsed(),
            s.visible.len()
        );
    }
}

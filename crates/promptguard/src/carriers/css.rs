//! Just enough CSS to tell whether text renders: inline `style` declarations
//! and colours.
//!
//! Owns: parsing one `style` attribute into the properties that hide text,
//! and parsing CSS colours (hex, `rgb()`/`rgba()`, a few names). Must never
//! fail on malformed CSS: anything it cannot read counts as not hiding.

/// An sRGB colour with alpha (0 = fully transparent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rgba(pub u8, pub u8, pub u8, pub u8);

pub(crate) const WHITE: Rgba = Rgba(255, 255, 255, 255);
pub(crate) const BLACK: Rgba = Rgba(0, 0, 0, 255);

impl Rgba {
    /// Close enough that a reader cannot tell them apart.
    pub(crate) fn looks_like(self, other: Rgba) -> bool {
        let d = |a: u8, b: u8| a.abs_diff(b);
        d(self.0, other.0) <= 24 && d(self.1, other.1) <= 24 && d(self.2, other.2) <= 24
    }
}

/// What one element's inline style says about rendering.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Style {
    pub display_none: bool,
    /// `Some(true)` for `visibility: hidden|collapse`, `Some(false)` for
    /// `visible` (children may show again), `None` if unset.
    pub visibility_hidden: Option<bool>,
    /// `Some(true)` for a zero font size, `Some(false)` for any other size.
    pub font_zero: Option<bool>,
    pub opacity_zero: bool,
    /// Moved far off screen (`left: -9999px`, `text-indent: -9999px`).
    pub off_screen: bool,
    pub color: Option<Rgba>,
    pub background: Option<Rgba>,
}

/// Parses a `style` attribute.
pub(crate) fn parse_style(style: &str) -> Style {
    let mut out = Style::default();
    for decl in style.split(';') {
        let Some((prop, value)) = decl.split_once(':') else {
            continue;
        };
        let prop = prop.trim().to_ascii_lowercase();
        let value = value.trim().to_ascii_lowercase();
        let value = value.trim_end_matches("!important").trim();
        match prop.as_str() {
            "display" => out.display_none = value == "none",
            "visibility" => {
                out.visibility_hidden = Some(matches!(value, "hidden" | "collapse"));
            }
            "font-size" => out.font_zero = Some(is_zero_length(value)),
            "font" => out.font_zero = Some(is_zero_length(first_token(value))),
            "opacity" => out.opacity_zero = value.parse::<f32>().is_ok_and(|o| o <= 0.01),
            "left" | "top" | "text-indent" | "margin-left" => {
                out.off_screen |= far_negative(value);
            }
            "color" => out.color = parse_color(value),
            "background-color" => out.background = parse_color(value),
            "background" => out.background = value.split_whitespace().find_map(parse_color),
            _ => {}
        }
    }
    out
}

fn first_token(value: &str) -> &str {
    value
        .split(|c: char| c.is_whitespace() || c == '/')
        .next()
        .unwrap_or("")
}

/// `0`, `0px`, `0.0em`, `0%` …
fn is_zero_length(value: &str) -> bool {
    let num: String = value
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let unit = value.get(num.len()..).unwrap_or("");
    !num.is_empty()
        && num.parse::<f32>().is_ok_and(|n| n == 0.0)
        && unit.chars().all(|c| c.is_ascii_alphabetic() || c == '%')
}

/// A length of a thousand pixels (or 100 em) or more to the left or top.
fn far_negative(value: &str) -> bool {
    let Some(rest) = value.strip_prefix('-') else {
        return false;
    };
    let num: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let Ok(n) = num.parse::<f32>() else {
        return false;
    };
    match rest.get(num.len()..).unwrap_or("") {
        "px" | "" => n >= 999.0,
        "em" | "rem" => n >= 100.0,
        "vw" | "vh" | "%" => n >= 100.0,
        _ => false,
    }
}

/// Parses a CSS colour; `transparent` has alpha 0.
pub(crate) fn parse_color(value: &str) -> Option<Rgba> {
    let v = value.trim();
    if let Some(hex) = v.strip_prefix('#') {
        return parse_hex(hex);
    }
    if let Some(args) = v
        .strip_prefix("rgba(")
        .or_else(|| v.strip_prefix("rgb("))
        .and_then(|r| r.strip_suffix(')'))
    {
        let parts: Vec<&str> = args
            .split(|c: char| c == ',' || c == '/' || c.is_whitespace())
            .filter(|p| !p.is_empty())
            .collect();
        let channel = |p: &str| -> Option<u8> {
            if let Some(pct) = p.strip_suffix('%') {
                let f = pct.parse::<f32>().ok()?;
                return Some((f.clamp(0.0, 100.0) * 2.55).round() as u8);
            }
            Some(p.parse::<f32>().ok()?.clamp(0.0, 255.0).round() as u8)
        };
        let alpha = |p: &str| -> Option<u8> {
            if let Some(pct) = p.strip_suffix('%') {
                let f = pct.parse::<f32>().ok()?;
                return Some((f.clamp(0.0, 100.0) * 2.55).round() as u8);
            }
            Some((p.parse::<f32>().ok()?.clamp(0.0, 1.0) * 255.0).round() as u8)
        };
        let r = channel(parts.first()?)?;
        let g = channel(parts.get(1)?)?;
        let b = channel(parts.get(2)?)?;
        let a = match parts.get(3) {
            Some(p) => alpha(p)?,
            None => 255,
        };
        return Some(Rgba(r, g, b, a));
    }
    Some(match v {
        "white" => WHITE,
        "black" => BLACK,
        "transparent" => Rgba(0, 0, 0, 0),
        "red" => Rgba(255, 0, 0, 255),
        "green" => Rgba(0, 128, 0, 255),
        "blue" => Rgba(0, 0, 255, 255),
        "gray" | "grey" => Rgba(128, 128, 128, 255),
        "silver" => Rgba(192, 192, 192, 255),
        "yellow" => Rgba(255, 255, 0, 255),
        "whitesmoke" => Rgba(245, 245, 245, 255),
        "snow" => Rgba(255, 250, 250, 255),
        "ivory" => Rgba(255, 255, 240, 255),
        _ => return None,
    })
}

fn parse_hex(hex: &str) -> Option<Rgba> {
    if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let nib = |i: usize| -> Option<u8> {
        let v = u8::from_str_radix(hex.get(i..=i)?, 16).ok()?;
        Some(v * 17)
    };
    let byte = |i: usize| -> Option<u8> { u8::from_str_radix(hex.get(i..i + 2)?, 16).ok() };
    match hex.len() {
        3 => Some(Rgba(nib(0)?, nib(1)?, nib(2)?, 255)),
        4 => Some(Rgba(nib(0)?, nib(1)?, nib(2)?, nib(3)?)),
        6 => Some(Rgba(byte(0)?, byte(2)?, byte(4)?, 255)),
        8 => Some(Rgba(byte(0)?, byte(2)?, byte(4)?, byte(6)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_parse() {
        assert_eq!(parse_color("#FFF"), Some(WHITE));
        assert_eq!(parse_color("#000000"), Some(BLACK));
        assert_eq!(parse_color("rgb(255, 255, 255)"), Some(WHITE));
        assert_eq!(parse_color("rgba(0 0 0 / 0)"), Some(Rgba(0, 0, 0, 0)));
        assert_eq!(parse_color("transparent").map(|c| c.3), Some(0));
        assert_eq!(parse_color("#12"), None);
        assert_eq!(parse_color("hsl(0, 0%, 100%)"), None);
        assert!(Rgba(250, 250, 250, 255).looks_like(WHITE));
        assert!(!Rgba(200, 200, 200, 255).looks_like(WHITE));
        assert!(Rgba(17, 17, 17, 255).looks_like(BLACK));
    }

    #[test]
    fn styles_parse() {
        assert!(parse_style("DISPLAY: none !important").display_none);
        assert!(!parse_style("display: block").display_none);
        assert_eq!(parse_style("font-size:0px").font_zero, Some(true));
        assert_eq!(parse_style("font-size:0.5em").font_zero, Some(false));
        assert_eq!(parse_style("font: 0/0 a").font_zero, Some(true));
        assert_eq!(
            parse_style("visibility: hidden").visibility_hidden,
            Some(true)
        );
        assert!(parse_style("position:absolute; left:-9999px").off_screen);
        assert!(!parse_style("margin-left:-10px").off_screen);
        assert!(parse_style("opacity: 0").opacity_zero);
        assert_eq!(
            parse_style("background: #000 url(x.png)").background,
            Some(BLACK)
        );
        assert_eq!(parse_style("color").color, None);
    }
}

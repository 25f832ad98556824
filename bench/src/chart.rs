//! A dependency-free SVG chart of a run: throughput over time (top) and the latency
//! distribution by percentile (bottom), one colour per phase. Plain SVG text keeps the bench free
//! of plotting crates and opens in any browser.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::BenchError;
use crate::report::Phase;

const WIDTH: f64 = 900.0;
const PANEL_HEIGHT: f64 = 300.0;
const MARGIN_LEFT: f64 = 80.0;
const MARGIN_RIGHT: f64 = 30.0;
const MARGIN_TOP: f64 = 40.0;
const PANEL_GAP: f64 = 80.0;
const COLOURS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
/// Percentile ticks of the latency axis, as "nines".
const NINES_TICKS: [(f64, &str); 6] = [
    (0.0, "0%"),
    (1.0, "90%"),
    (2.0, "99%"),
    (3.0, "99.9%"),
    (4.0, "99.99%"),
    (5.0, "99.999%"),
];
/// Where the maximum sits on the nines axis (past the last finite percentile).
const NINES_MAX: f64 = 5.5;

/// Where a percentile lies on a "number of nines" axis: 90 → 1, 99 → 2, 100 → the end.
pub fn nines(percentile: f64) -> f64 {
    if percentile >= 100.0 {
        return NINES_MAX;
    }
    (-(1.0 - percentile / 100.0).log10()).clamp(0.0, NINES_MAX)
}

/// Renders the chart of `phases` as an SVG document.
pub fn render(title: &str, phases: &[Phase]) -> String {
    let height = MARGIN_TOP * 2.0 + PANEL_HEIGHT * 2.0 + PANEL_GAP;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="20" text-anchor="middle" font-size="15">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    throughput_panel(&mut svg, phases, MARGIN_TOP);
    latency_panel(&mut svg, phases, MARGIN_TOP + PANEL_HEIGHT + PANEL_GAP);
    for (index, phase) in phases.iter().enumerate() {
        let x = MARGIN_LEFT + 10.0 + 120.0 * index as f64;
        let colour = COLOURS[index % COLOURS.len()];
        let _ = writeln!(
            svg,
            r#"<rect x="{x}" y="{}" width="12" height="12" fill="{colour}"/><text x="{}" y="{}">{}</text>"#,
            height - 25.0,
            x + 16.0,
            height - 14.0,
            escape(&phase.name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// Writes the chart to `path`.
pub fn write(path: &Path, title: &str, phases: &[Phase]) -> Result<(), BenchError> {
    std::fs::write(path, render(title, phases))
        .map_err(|e| BenchError::Io(format!("write {}", path.display()), e))
}

struct Frame {
    top: f64,
    x_max: f64,
    y_max: f64,
}

impl Frame {
    fn x(&self, value: f64) -> f64 {
        MARGIN_LEFT + value / self.x_max * (WIDTH - MARGIN_LEFT - MARGIN_RIGHT)
    }

    fn y(&self, value: f64) -> f64 {
        self.top + PANEL_HEIGHT - value / self.y_max * PANEL_HEIGHT
    }

    fn axes(&self, svg: &mut String, title: &str, y_label: &str) {
        let (left, right) = (MARGIN_LEFT, WIDTH - MARGIN_RIGHT);
        let bottom = self.top + PANEL_HEIGHT;
        let _ = writeln!(
            svg,
            r#"<text x="{left}" y="{}" font-size="13">{title}</text>"#,
            self.top - 8.0
        );
        let _ = writeln!(
            svg,
            r##"<path d="M{left},{} L{left},{bottom} L{right},{bottom}" fill="none" stroke="#333"/>"##,
            self.top
        );
        for step in 0..=4 {
            let value = self.y_max * f64::from(step) / 4.0;
            let y = self.y(value);
            let _ = writeln!(
                svg,
                r##"<line x1="{left}" x2="{right}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                left - 5.0,
                y + 4.0,
                short_number(value)
            );
        }
        let _ = writeln!(
            svg,
            r#"<text transform="translate(15,{:.1}) rotate(-90)" text-anchor="middle">{y_label}</text>"#,
            self.top + PANEL_HEIGHT / 2.0
        );
    }
}

fn throughput_panel(svg: &mut String, phases: &[Phase], top: f64) {
    let points = phases.iter().flat_map(|p| p.timeline.iter());
    let x_max = points.clone().map(|p| p.t_secs).fold(1.0, f64::max);
    let y_max = nice_ceiling(points.map(|p| p.records_per_sec).fold(0.0, f64::max));
    let frame = Frame { top, x_max, y_max };
    frame.axes(svg, "Throughput over time", "records/s");
    for step in 0..=5 {
        let t = x_max * f64::from(step) / 5.0;
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{:.0}s</text>"#,
            frame.x(t),
            top + PANEL_HEIGHT + 16.0,
            t
        );
    }
    for (index, phase) in phases.iter().enumerate() {
        let path: Vec<String> = phase
            .timeline
            .iter()
            .map(|p| format!("{:.1},{:.1}", frame.x(p.t_secs), frame.y(p.records_per_sec)))
            .collect();
        polyline(svg, &path, COLOURS[index % COLOURS.len()]);
    }
}

fn latency_panel(svg: &mut String, phases: &[Phase], top: f64) {
    let y_max = nice_ceiling(
        phases
            .iter()
            .flat_map(|p| p.distribution.iter())
            .map(|d| d.latency_us / 1_000.0)
            .fold(0.0, f64::max),
    );
    let frame = Frame {
        top,
        x_max: NINES_MAX,
        y_max,
    };
    frame.axes(svg, "Latency by percentile", "ms");
    for (position, label) in NINES_TICKS.iter().chain([(NINES_MAX, "max")].iter()) {
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{label}</text>"#,
            frame.x(*position),
            top + PANEL_HEIGHT + 16.0
        );
    }
    for (index, phase) in phases.iter().enumerate() {
        let path: Vec<String> = phase
            .distribution
            .iter()
            .map(|d| {
                let x = frame.x(nines(d.percentile));
                format!("{x:.1},{:.1}", frame.y(d.latency_us / 1_000.0))
            })
            .collect();
        polyline(svg, &path, COLOURS[index % COLOURS.len()]);
    }
}

fn polyline(svg: &mut String, points: &[String], colour: &str) {
    if points.is_empty() {
        return;
    }
    let _ = writeln!(
        svg,
        r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
        points.join(" ")
    );
}

/// The next round number at or above `value` (1, 2 or 5 times a power of ten), so axis ticks
/// read well; 1 for an empty series.
pub fn nice_ceiling(value: f64) -> f64 {
    if !value.is_finite() || value <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|candidate| *candidate >= value)
        .unwrap_or(10.0 * magnitude)
}

fn short_number(value: f64) -> String {
    if value >= 1e6 {
        format!("{:.1}M", value / 1e6)
    } else if value >= 1e3 {
        format!("{:.1}k", value / 1e3)
    } else if value >= 10.0 || value == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

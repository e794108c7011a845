//! The sweep's plot: p50 and p99 latency against the offered rate (SVG, drawn with plotters).

use std::path::Path;

use plotters::coord::combinators::IntoLogRange;
use plotters::prelude::*;

use crate::report::{Step, Sweep};

/// One step's point: (offered/s, p50 ms, p99 ms).
type Point = (f64, f64, f64);
/// Picks one curve's (x, y) from a point.
type Curve = fn(&Point) -> (f64, f64);

/// One point per step that recorded a latency.
fn points(steps: &[Step]) -> Vec<Point> {
    steps
        .iter()
        .filter_map(|step| {
            let offered = step.offered_per_s?;
            let overall = &step.recorded.overall;
            (overall.count > 0).then(|| {
                // A log axis cannot show 0: clamp to 1 µs.
                (offered, overall.p50_us.max(1) as f64 / 1000.0, overall.p99_us.max(1) as f64 / 1000.0)
            })
        })
        .collect()
}

/// Writes the plot of `steps` to `path`, with the p99 bound, the saturation rate and the throughput
/// limit marked.
pub fn write(path: &Path, title: &str, steps: &[Step], sweep: &Sweep) -> anyhow::Result<()> {
    let slo_ms = sweep.slo_ms;
    let points = points(steps);
    if points.is_empty() {
        anyhow::bail!("no step recorded a latency: nothing to plot");
    }
    let max_rate = points.iter().map(|point| point.0).fold(0.0, f64::max);
    let low = points.iter().map(|point| point.1).fold(slo_ms, f64::min) / 2.0;
    let high = points.iter().map(|point| point.2).fold(slo_ms, f64::max) * 2.0;
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..max_rate * 1.05, (low..high).log_scale())
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("offered rate (operations/s)")
        .y_desc("latency from when due (ms, log scale)")
        .x_label_formatter(&|rate| format!("{rate:.0}"))
        .y_labels(24)
        .y_label_formatter(&|ms| if *ms >= 1.0 { format!("{ms:.0}") } else { format!("{ms:.2}") })
        .draw()
        .map_err(plot_error)?;
    let series: [(&str, RGBColor, Curve); 2] =
        [("p50", BLUE, |point| (point.0, point.1)), ("p99", RED, |point| (point.0, point.2))];
    for (label, color, pick) in series {
        chart
            .draw_series(LineSeries::new(points.iter().map(pick), color.stroke_width(2)))
            .map_err(plot_error)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart
            .draw_series(points.iter().map(|point| Circle::new(pick(point), 3, color.filled())))
            .map_err(plot_error)?;
    }
    let grey = RGBColor(120, 120, 120);
    chart
        .draw_series(LineSeries::new([(0.0, slo_ms), (max_rate * 1.05, slo_ms)], grey.stroke_width(1)))
        .map_err(plot_error)?
        .label(format!("p99 bound {slo_ms} ms"))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(1)));
    let markers = [
        (sweep.saturation_per_s, "saturation", RGBColor(0, 140, 0)),
        (sweep.throughput_limit_per_s, "throughput limit", RGBColor(200, 120, 0)),
    ];
    for (rate, name, color) in markers {
        let Some(rate) = rate else { continue };
        chart
            .draw_series(LineSeries::new([(rate, low), (rate, high)], color.stroke_width(1)))
            .map_err(plot_error)?
            .label(format!("{name} {rate}/s"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(1)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)?;
    root.present().map_err(plot_error)?;
    Ok(())
}

fn plot_error<E: std::fmt::Display>(error: E) -> anyhow::Error {
    anyhow::anyhow!("plot: {error}")
}

//! Measures deterministic RSA key generation: `cargo run -p jpki-testpki --example keygen_timing`.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for bits in [2048usize, 1024] {
        let n = if bits == 2048 { 40 } else { 10 };
        let mut times = Vec::with_capacity(n);
        for i in 0..n {
            let t = Instant::now();
            jpki_testpki::keys::derive_key(1, &format!("timing/{i}"), bits)?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let mean = times.iter().sum::<f64>() / n as f64;
        println!(
            "RSA-{bits}: {n} keys, mean {mean:.1} ms, median {:.1} ms, min {:.1} ms, max {:.1} ms",
            times[n / 2],
            times[0],
            times[n - 1]
        );
    }
    Ok(())
}

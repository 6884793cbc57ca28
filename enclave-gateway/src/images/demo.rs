//! The local demo generator — **not a trained model**. It paints a procedural landscape whose
//! time of day, palette, terrain and details follow the prompt's words (night, sunset, ocean,
//! mountains, forest, city, snow, desert, colour names …), and everything else from a generator
//! seeded by the prompt and the seed: the same prompt and seed always give the same picture.
//! It lets Image Studio work offline and its tests be exact; it is named as what it is in the
//! model list and wherever its images show.

use futures::future::BoxFuture;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use super::{ImageBackend, ImageError, ImageJob, ImageModel};

pub const MODEL: &str = "sotto-demo-images";
pub const DESCRIPTION: &str = "local demo generator — not a trained model";

pub struct DemoGenerator;

impl ImageBackend for DemoGenerator {
    fn models(&self) -> Vec<ImageModel> {
        vec![ImageModel { id: MODEL.into(), description: DESCRIPTION.into() }]
    }

    fn canonical_output(&self) -> bool {
        true
    }

    fn generate(&self, job: ImageJob) -> BoxFuture<'_, Result<Vec<Vec<u8>>, ImageError>> {
        Box::pin(async move {
            let style = Style::named(job.style.as_deref())?;
            tokio::task::spawn_blocking(move || (0..job.n).map(|i| paint(&job, i, style)).collect::<Result<Vec<_>, _>>())
                .await
                .map_err(|_| ImageError::new(500, "the demo generator stopped unexpectedly"))?
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Style {
    Natural,
    Vivid,
    Pastel,
    Mono,
}

impl Style {
    fn named(name: Option<&str>) -> Result<Self, ImageError> {
        Ok(match name.map(str::to_ascii_lowercase).as_deref() {
            None | Some("") | Some("natural") => Self::Natural,
            Some("vivid") => Self::Vivid,
            Some("pastel") => Self::Pastel,
            Some("mono") => Self::Mono,
            Some(other) => {
                return Err(ImageError::new(400, format!("the demo generator has no style `{other}`: use natural, vivid, pastel or mono")))
            }
        })
    }
}

type Rgb = [f32; 3];

fn rgb(hex: u32) -> Rgb {
    [((hex >> 16) & 0xff) as f32 / 255.0, ((hex >> 8) & 0xff) as f32 / 255.0, (hex & 0xff) as f32 / 255.0]
}

fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    let t = t.clamp(0.0, 1.0);
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}

fn scale(a: Rgb, k: f32) -> Rgb {
    [a[0] * k, a[1] * k, a[2] * k]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum TimeOfDay {
    Day,
    Dawn,
    Sunset,
    Night,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Terrain {
    Mountains,
    Hills,
    Dunes,
}

/// What the prompt's words ask for.
#[derive(Debug, Clone)]
struct Scene {
    time: TimeOfDay,
    terrain: Terrain,
    water: bool,
    city: bool,
    trees: bool,
    snow: bool,
    clouds: bool,
    accent: Option<Rgb>,
}

fn has(words: &[String], any: &[&str]) -> bool {
    words.iter().any(|w| any.iter().any(|k| w.starts_with(k)))
}

impl Scene {
    fn read(prompt: &str, rng: &mut ChaCha8Rng) -> Self {
        let words: Vec<String> = prompt.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(String::from).collect();
        let time = if has(&words, &["night", "moon", "star", "midnight", "galax", "aurora"]) {
            TimeOfDay::Night
        } else if has(&words, &["sunset", "dusk", "evening", "twilight"]) {
            TimeOfDay::Sunset
        } else if has(&words, &["dawn", "sunrise", "morning"]) {
            TimeOfDay::Dawn
        } else if has(&words, &["day", "noon", "sunny", "summer"]) {
            TimeOfDay::Day
        } else {
            [TimeOfDay::Day, TimeOfDay::Dawn, TimeOfDay::Sunset, TimeOfDay::Night][rng.gen_range(0..4)]
        };
        let terrain = if has(&words, &["mountain", "alp", "peak", "cliff", "volcan", "glacier"]) {
            Terrain::Mountains
        } else if has(&words, &["desert", "dune", "sand", "sahara"]) {
            Terrain::Dunes
        } else if has(&words, &["hill", "meadow", "field", "valley", "farm", "garden"]) {
            Terrain::Hills
        } else {
            [Terrain::Mountains, Terrain::Hills][rng.gen_range(0..2)]
        };
        let accent = [
            (&["red", "crimson", "scarlet"][..], 0xd6_3a_3a),
            (&["orange", "amber"][..], 0xf0_8a_24),
            (&["gold", "yellow"][..], 0xf2_c2_3b),
            (&["green", "emerald", "jade"][..], 0x3f_a8_5b),
            (&["teal", "turquoise", "cyan"][..], 0x2a_b3_b0),
            (&["blue", "azure", "cobalt"][..], 0x3b_6f_e0),
            (&["purple", "violet", "lavender"][..], 0x8b_5c_d6),
            (&["pink", "rose", "magenta"][..], 0xe5_6f_b0),
        ]
        .iter()
        .find(|(names, _)| has(&words, names))
        .map(|(_, hex)| rgb(*hex));
        Self {
            time,
            terrain,
            water: has(&words, &["ocean", "sea", "lake", "river", "beach", "water", "harbo", "bay", "coast", "island"]),
            city: has(&words, &["city", "town", "skyline", "village", "tower", "street", "building"]),
            trees: has(&words, &["forest", "tree", "wood", "pine", "jungle"]),
            snow: has(&words, &["snow", "winter", "ice", "frost", "glacier"]),
            clouds: has(&words, &["cloud", "storm", "rain", "fog", "mist"]) || rng.gen_bool(0.5),
            accent,
        }
    }

    /// Sky from the zenith down to the horizon, the light's colour, the land's colour.
    fn palette(&self) -> (Rgb, Rgb, Rgb, Rgb, Rgb) {
        let (top, mid, horizon, light, land) = match self.time {
            TimeOfDay::Day => (0x2f6fc0, 0x6fa8e0, 0xcfe6f5, 0xfff6d8, 0x4f7d4a),
            TimeOfDay::Dawn => (0x3a4f8c, 0xc58fb0, 0xffd2a8, 0xfff0c8, 0x5a5f6e),
            TimeOfDay::Sunset => (0x2c2a5a, 0xc0506a, 0xffb061, 0xffe0a0, 0x3b2d3f),
            TimeOfDay::Night => (0x060b1e, 0x14224a, 0x2e3f6e, 0xf2f0e0, 0x111827),
        };
        let land = match self.terrain {
            Terrain::Dunes => mix(rgb(land), rgb(0xd9a560), if self.time == TimeOfDay::Night { 0.3 } else { 0.85 }),
            _ => rgb(land),
        };
        let tint = |c: u32, k: f32| self.accent.map_or(rgb(c), |a| mix(rgb(c), a, k));
        let land = self.accent.map_or(land, |a| mix(land, scale(a, 0.6), 0.35));
        (tint(top, 0.25), tint(mid, 0.35), tint(horizon, 0.2), rgb(light), land)
    }
}

/// A float canvas, painted back to front.
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<Rgb>,
}

impl Canvas {
    fn blend(&mut self, x: usize, y: usize, c: Rgb, alpha: f32) {
        if x < self.w && y < self.h {
            let p = &mut self.px[y * self.w + x];
            *p = mix(*p, c, alpha);
        }
    }
}

/// Smooth 1-D noise: random values at lattice points, cosine-interpolated, over octaves.
struct Ridge {
    octaves: Vec<(f32, f32, Vec<f32>)>,
}

impl Ridge {
    fn new(rng: &mut ChaCha8Rng, base_period: f32, roughness: usize) -> Self {
        let octaves = (0..roughness)
            .map(|o| {
                let period = base_period / 2f32.powi(o as i32);
                let amplitude = 0.5f32.powi(o as i32);
                let points = (1.0 / period).ceil() as usize + 2;
                (period, amplitude, (0..points).map(|_| rng.gen::<f32>()).collect())
            })
            .collect();
        Self { octaves }
    }

    /// Height in 0..1 at `u` in 0..1.
    fn at(&self, u: f32) -> f32 {
        let mut sum = 0.0;
        let mut norm = 0.0;
        for (period, amplitude, points) in &self.octaves {
            let t = u / period;
            let i = t.floor() as usize;
            let f = t - t.floor();
            let f = (1.0 - (f * std::f32::consts::PI).cos()) * 0.5;
            let a = points[i.min(points.len() - 1)];
            let b = points[(i + 1).min(points.len() - 1)];
            sum += (a + (b - a) * f) * amplitude;
            norm += amplitude;
        }
        sum / norm
    }
}

fn seeded(job: &ImageJob, index: u32) -> ChaCha8Rng {
    let mut h = Sha256::new();
    h.update(b"sotto-demo-images-v1\0");
    h.update(job.prompt.trim().to_lowercase().as_bytes());
    h.update(job.seed.to_le_bytes());
    h.update(index.to_le_bytes());
    ChaCha8Rng::from_seed(h.finalize().into())
}

/// One picture, as a PNG.
fn paint(job: &ImageJob, index: u32, style: Style) -> Result<Vec<u8>, ImageError> {
    let mut rng = seeded(job, index);
    let scene = Scene::read(&job.prompt, &mut rng);
    let (w, h) = (job.width as usize, job.height as usize);
    let mut c = Canvas { w, h, px: vec![[0.0; 3]; w * h] };
    let horizon = (h as f32 * rng.gen_range(0.58..0.7)) as usize;
    let (top, mid, low, light, land) = scene.palette();
    sky(&mut c, horizon, top, mid, low);
    let sun = celestial(&mut c, &scene, &mut rng, horizon, light);
    if scene.time == TimeOfDay::Night {
        stars(&mut c, &mut rng, horizon);
    }
    if scene.clouds {
        clouds(&mut c, &mut rng, horizon, mix(low, light, 0.5), scene.time);
    }
    let ground_line = if scene.water { horizon } else { h };
    ridges(&mut c, &scene, &mut rng, horizon, ground_line, low, land);
    if scene.city {
        city(&mut c, &mut rng, horizon, land, scene.accent.unwrap_or(rgb(0xffd36b)), scene.time);
    }
    if scene.water {
        water(&mut c, &mut rng, horizon, sun, light);
    }
    finish(&c, style, scene.accent, &mut rng)
}

fn sky(c: &mut Canvas, horizon: usize, top: Rgb, mid: Rgb, low: Rgb) {
    for y in 0..c.h {
        let t = y as f32 / horizon.max(1) as f32;
        let col = if t < 0.55 { mix(top, mid, t / 0.55) } else { mix(mid, low, (t - 0.55) / 0.45) };
        c.px[y * c.w..(y + 1) * c.w].fill(col);
    }
}

/// The sun or moon with its glow; returns its position and radius.
fn celestial(c: &mut Canvas, scene: &Scene, rng: &mut ChaCha8Rng, horizon: usize, light: Rgb) -> (f32, f32, f32) {
    let (w, h) = (c.w as f32, c.h as f32);
    let r = w.min(h) * rng.gen_range(0.045..0.08);
    let cx = w * rng.gen_range(0.2..0.8);
    let cy = match scene.time {
        TimeOfDay::Sunset | TimeOfDay::Dawn => horizon as f32 * rng.gen_range(0.5..0.7),
        _ => horizon as f32 * rng.gen_range(0.18..0.45),
    };
    let glow = r * 6.0;
    // The glow fades below one level of 255 by `reach`, so its box leaves no visible edge.
    let reach = r + glow * 1.7;
    let disc = if scene.time == TimeOfDay::Night { rgb(0xf4f1e4) } else { mix(light, rgb(0xffffff), 0.5) };
    let (x0, x1) = ((cx - reach).max(0.0) as usize, ((cx + reach) as usize).min(c.w));
    let (y0, y1) = ((cy - reach).max(0.0) as usize, ((cy + reach) as usize).min(horizon));
    for y in y0..y1 {
        for x in x0..x1 {
            let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
            if d < r {
                c.blend(x, y, disc, ((r - d) * 1.5).clamp(0.0, 1.0));
            } else {
                let k = (-(d - r) / (glow * 0.3)).exp() * 0.55;
                c.blend(x, y, light, k);
            }
        }
    }
    (cx, cy, r)
}

fn stars(c: &mut Canvas, rng: &mut ChaCha8Rng, horizon: usize) {
    let count = c.w * horizon / 2500;
    for _ in 0..count {
        let (x, y) = (rng.gen_range(0..c.w), rng.gen_range(0..horizon.max(1)));
        let b = rng.gen_range(0.3..1.0f32) * (1.0 - y as f32 / horizon as f32);
        c.blend(x, y, [1.0, 1.0, 0.95], b);
        if b > 0.8 {
            for (dx, dy) in [(1, 0), (0, 1)] {
                c.blend(x + dx, y + dy, [1.0, 1.0, 0.95], b * 0.4);
            }
        }
    }
}

fn clouds(c: &mut Canvas, rng: &mut ChaCha8Rng, horizon: usize, colour: Rgb, time: TimeOfDay) {
    let colour = if time == TimeOfDay::Night { scale(colour, 0.35) } else { colour };
    for _ in 0..rng.gen_range(3..7) {
        let cx = rng.gen_range(0.0..c.w as f32);
        let cy = rng.gen_range(0.08..0.55) * horizon as f32;
        let size = c.w as f32 * rng.gen_range(0.06..0.12);
        for _ in 0..rng.gen_range(4..8) {
            let (ex, ey) = (cx + rng.gen_range(-1.6..1.6) * size, cy + rng.gen_range(-0.3..0.3) * size);
            let (rx, ry) = (size * rng.gen_range(0.7..1.3), size * rng.gen_range(0.25..0.45));
            let (x0, x1) = ((ex - rx).max(0.0) as usize, ((ex + rx) as usize).min(c.w));
            let (y0, y1) = ((ey - ry).max(0.0) as usize, ((ey + ry) as usize).min(horizon));
            for y in y0..y1 {
                for x in x0..x1 {
                    let d = ((x as f32 - ex) / rx).powi(2) + ((y as f32 - ey) / ry).powi(2);
                    if d < 1.0 {
                        let shade = 1.0 - 0.25 * ((y as f32 - ey) / ry).max(0.0);
                        c.blend(x, y, scale(colour, shade), (1.0 - d) * 0.5);
                    }
                }
            }
        }
    }
}

/// Layers of land from far (hazy, the sky's colour) to near (the land's colour).
fn ridges(c: &mut Canvas, scene: &Scene, rng: &mut ChaCha8Rng, horizon: usize, ground: usize, haze: Rgb, land: Rgb) {
    let layers = rng.gen_range(3..5);
    let (period, roughness, height) = match scene.terrain {
        Terrain::Mountains => (0.35, 5, 0.32),
        Terrain::Hills => (0.6, 3, 0.14),
        Terrain::Dunes => (0.5, 2, 0.1),
    };
    let h = c.h as f32;
    for layer in 0..layers {
        let near = layer as f32 / (layers - 1).max(1) as f32;
        let ridge = Ridge::new(rng, period * (1.0 - near * 0.3), roughness);
        let amp = h * height * (1.0 - near * 0.45);
        let base = horizon as f32 + (if ground == horizon { 0.0 } else { near * (c.h - horizon) as f32 * 0.55 });
        let colour = mix(mix(haze, land, 0.25), scale(land, 0.8), near);
        let snowline = amp * 0.5;
        let mut tops = vec![0f32; c.w];
        for x in 0..c.w {
            let u = x as f32 / c.w as f32;
            let lift = match scene.terrain {
                // Mountains: valleys between sharper peaks.
                Terrain::Mountains => ((ridge.at(u) - 0.25) / 0.75).max(0.0).powf(1.3),
                _ => ridge.at(u),
            };
            let top = base - lift * amp;
            tops[x] = top;
            // Snow on the higher peaks, fading in with height (no hard edges between columns).
            let snow = if scene.snow && scene.terrain == Terrain::Mountains { ((lift * amp - snowline) / (amp * 0.15)).clamp(0.0, 1.0) } else { 0.0 };
            let y0 = top.max(0.0) as usize;
            let bottom = ground.min(c.h);
            for y in y0..bottom {
                let depth = (y as f32 - top) / (h - top).max(1.0);
                let mut col = scale(colour, 1.0 - depth * 0.35);
                if snow > 0.0 {
                    let below = (y as f32 - top) / (amp * 0.25);
                    col = mix(col, [0.95, 0.96, 1.0], snow * 0.9 * (1.0 - below).clamp(0.0, 1.0));
                }
                if scene.terrain == Terrain::Dunes {
                    let slope = ridge.at(u + 0.002) - ridge.at(u);
                    col = scale(col, 1.0 + slope * 60.0);
                }
                let edge = (y as f32 - top).clamp(0.0, 1.0);
                c.blend(x, y, col, edge);
            }
        }
        if scene.trees && layer + 1 >= layers - 1 {
            trees(c, rng, &tops, scale(land, 0.55 - near * 0.15), ground);
        }
    }
}

fn trees(c: &mut Canvas, rng: &mut ChaCha8Rng, tops: &[f32], colour: Rgb, ground: usize) {
    let count = c.w / 14;
    for _ in 0..count {
        let x = rng.gen_range(0..c.w);
        let foot = tops[x] + rng.gen_range(2.0..14.0);
        let height = c.h as f32 * rng.gen_range(0.04..0.09);
        let half = height * 0.28;
        let (y0, y1) = ((foot - height).max(0.0) as usize, (foot as usize).min(ground));
        for y in y0..y1 {
            let t = (y as f32 - (foot - height)) / height;
            let span = half * t;
            let (a, b) = ((x as f32 - span).max(0.0) as usize, ((x as f32 + span) as usize).min(c.w));
            for px in a..b {
                c.blend(px, y, colour, 0.95);
            }
        }
    }
}

fn city(c: &mut Canvas, rng: &mut ChaCha8Rng, horizon: usize, land: Rgb, window: Rgb, time: TimeOfDay) {
    let body = scale(land, 0.6);
    let lit = matches!(time, TimeOfDay::Night | TimeOfDay::Sunset | TimeOfDay::Dawn);
    let unit = (c.w as f32 / 64.0).max(2.0);
    let mut x = 0.0;
    while (x as usize) < c.w {
        let width = unit * rng.gen_range(2.0..5.0);
        let height = c.h as f32 * rng.gen_range(0.06..0.26);
        let top = (horizon as f32 - height).max(0.0) as usize;
        let (x0, x1) = (x as usize, ((x + width) as usize).min(c.w));
        for y in top..horizon {
            for px in x0..x1 {
                c.blend(px, y, body, 1.0);
            }
        }
        if lit {
            let step = (unit * 0.8) as usize + 2;
            for y in (top + step / 2..horizon.saturating_sub(step)).step_by(step) {
                for px in (x0 + step / 2..x1.saturating_sub(step / 2)).step_by(step) {
                    if rng.gen_bool(0.45) {
                        for dy in 0..step / 2 {
                            for dx in 0..step / 2 {
                                c.blend(px + dx, y + dy, window, 0.9);
                            }
                        }
                    }
                }
            }
        }
        x += width + unit * rng.gen_range(0.0..0.6);
    }
}

/// Below the horizon: the scene mirrored, rippled and darkened, with a glitter path under the light.
fn water(c: &mut Canvas, rng: &mut ChaCha8Rng, horizon: usize, sun: (f32, f32, f32), light: Rgb) {
    let phase = rng.gen_range(0.0..6.28f32);
    for y in horizon..c.h {
        let depth = (y - horizon) as f32 / (c.h - horizon).max(1) as f32;
        let mirror = horizon.saturating_sub(y - horizon + 1).min(c.h - 1);
        let wobble = ((y as f32 * 0.12 + phase).sin() * (1.0 + depth * 4.0)) as isize;
        for x in 0..c.w {
            let sx = (x as isize + wobble).clamp(0, c.w as isize - 1) as usize;
            let mut col = scale(c.px[mirror * c.w + sx], 0.78 - depth * 0.25);
            let glitter = (1.0 - ((x as f32 - sun.0).abs() / (sun.2 * (1.5 + depth * 3.0)))).max(0.0);
            if glitter > 0.0 {
                let shimmer = ((y as f32 * 0.7 + phase).sin() * 0.5 + 0.5).powi(3);
                col = mix(col, light, glitter * shimmer * 0.5);
            }
            c.px[y * c.w + x] = col;
        }
    }
}

/// Applies the style, dithers to 8 bits and encodes the PNG.
fn finish(c: &Canvas, style: Style, accent: Option<Rgb>, rng: &mut ChaCha8Rng) -> Result<Vec<u8>, ImageError> {
    let tint = accent.unwrap_or(rgb(0xc9b79c));
    let grain_seed: u32 = rng.gen();
    let mut bytes = Vec::with_capacity(c.w * c.h * 3);
    for (i, p) in c.px.iter().enumerate() {
        let luma = 0.2126 * p[0] + 0.7152 * p[1] + 0.0722 * p[2];
        let styled = match style {
            Style::Natural => *p,
            Style::Vivid => {
                let s = [luma + (p[0] - luma) * 1.45, luma + (p[1] - luma) * 1.45, luma + (p[2] - luma) * 1.45];
                scale(s, 1.05)
            }
            Style::Pastel => mix(mix(*p, [luma; 3], 0.25), [1.0, 0.98, 0.96], 0.4),
            Style::Mono => mix([luma; 3], scale(tint, luma * 1.3), 0.35),
        };
        // A little grain (a hash of the position): no banding in smooth gradients.
        let n = (i as u32 ^ grain_seed).wrapping_mul(0x9E37_79B1).rotate_left(13).wrapping_mul(0x85EB_CA6B) >> 24;
        let grain = (n as f32 / 255.0 - 0.5) * 2.5;
        for ch in styled {
            bytes.push((ch * 255.0 + grain).round().clamp(0.0, 255.0) as u8);
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, c.w as u32, c.h as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let encoded = encoder.write_header().and_then(|mut w| {
        w.write_image_data(&bytes)?;
        w.finish()
    });
    encoded.map_err(|e| ImageError::new(500, format!("the demo generator could not encode its PNG ({e})")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(prompt: &str, seed: u64) -> ImageJob {
        ImageJob { model: MODEL.into(), prompt: prompt.into(), width: 256, height: 256, n: 1, seed, style: None }
    }

    #[test]
    fn the_same_prompt_and_seed_give_the_same_picture_and_others_do_not() {
        let a = paint(&job("a lake at night", 7), 0, Style::Natural).unwrap();
        assert_eq!(a, paint(&job("a lake at night", 7), 0, Style::Natural).unwrap());
        assert_ne!(a, paint(&job("a lake at night", 8), 0, Style::Natural).unwrap());
        assert_ne!(a, paint(&job("a desert at noon", 7), 0, Style::Natural).unwrap());
        assert_ne!(a, paint(&job("a lake at night", 7), 1, Style::Natural).unwrap());
        assert_eq!(sotto_enclave_protocol::images::png_dimensions(&a), Ok((256, 256)));
    }

    #[test]
    fn words_choose_the_scene() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let s = Scene::read("Snowy mountains over a purple lake at night, with a forest and a city", &mut rng);
        assert_eq!((s.time, s.terrain), (TimeOfDay::Night, Terrain::Mountains));
        assert!(s.water && s.snow && s.trees && s.city && s.accent.is_some());
        let s = Scene::read("desert dunes at sunset", &mut rng);
        assert_eq!((s.time, s.terrain, s.water), (TimeOfDay::Sunset, Terrain::Dunes, false));
    }

    #[test]
    fn an_unknown_style_is_refused_in_words() {
        let e = Style::named(Some("oil")).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.message.contains("natural, vivid, pastel or mono"));
    }
}

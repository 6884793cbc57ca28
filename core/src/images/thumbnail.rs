//! Decoding a verified PNG in full (a truncated or corrupt one is refused before anything is
//! kept) and making the gallery's thumbnail from it.

use std::io::Cursor;

/// The longest side of a gallery thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 256;
/// No image larger than this is decoded (a 2048×2048 RGBA image is 16 MiB).
const MAX_DECODE_BYTES: usize = 64 << 20;

/// An 8-bit RGB image.
#[derive(Debug)]
pub struct Rgb8 {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// Decodes a whole PNG to 8-bit RGB (alpha composited on white, grey expanded).
pub fn decode(png_bytes: &[u8]) -> Result<Rgb8, String> {
    let mut limits = png::Limits::default();
    limits.bytes = MAX_DECODE_BYTES;
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(png_bytes), limits);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|e| format!("not a readable PNG ({e})"))?;
    let size = reader.output_buffer_size().ok_or("a PNG too large to decode")?;
    if size > MAX_DECODE_BYTES {
        return Err("a PNG too large to decode".into());
    }
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).map_err(|e| format!("a damaged PNG ({e})"))?;
    let channels = info.color_type.samples();
    if channels == 3 {
        buf.truncate(info.buffer_size());
        return Ok(Rgb8 { width: info.width, height: info.height, pixels: buf });
    }
    let mut pixels = Vec::with_capacity(info.width as usize * info.height as usize * 3);
    for px in buf[..info.buffer_size()].chunks_exact(channels) {
        let (rgb, alpha) = match channels {
            1 => ([px[0]; 3], 255),
            2 => ([px[0]; 3], px[1]),
            3 => ([px[0], px[1], px[2]], 255),
            _ => ([px[0], px[1], px[2]], px[3]),
        };
        for c in rgb {
            pixels.push(((c as u32 * alpha as u32 + 255 * (255 - alpha as u32)) / 255) as u8);
        }
    }
    Ok(Rgb8 { width: info.width, height: info.height, pixels })
}

/// Scales down by averaging a 2 × 2 grid of samples spread over each source area: smooth enough
/// for a thumbnail, and a sixteenth of the work of averaging every source pixel.
pub fn downscale(img: &Rgb8, side: u32) -> Rgb8 {
    let k = (img.width.max(img.height) as f32 / side as f32).max(1.0);
    let (w, h) = (((img.width as f32 / k).round() as u32).max(1), ((img.height as f32 / k).round() as u32).max(1));
    let sample = |t: u32, target: u32, source: u32, quarter: u32| ((t * 4 + quarter) * source / (target * 4)).min(source - 1);
    let mut pixels = Vec::with_capacity((w * h * 3) as usize);
    for ty in 0..h {
        let rows = [sample(ty, h, img.height, 1), sample(ty, h, img.height, 3)];
        for tx in 0..w {
            let cols = [sample(tx, w, img.width, 1), sample(tx, w, img.width, 3)];
            let mut sum = [0u32; 3];
            for y in rows {
                for x in cols {
                    let at = (y * img.width + x) as usize * 3;
                    for (c, s) in sum.iter_mut().enumerate() {
                        *s += img.pixels[at + c] as u32;
                    }
                }
            }
            pixels.extend(sum.iter().map(|s| (s / 4) as u8));
        }
    }
    Rgb8 { width: w, height: h, pixels }
}

/// Encodes RGB as PNG.
pub fn encode(img: &Rgb8) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, img.width, img.height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Balanced);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(&img.pixels).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// The gallery thumbnail of a PNG (checks that the whole PNG decodes).
pub fn thumbnail(png_bytes: &[u8]) -> Result<Vec<u8>, String> {
    encode(&downscale(&decode(png_bytes)?, THUMBNAIL_SIDE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32) -> Rgb8 {
        let pixels = (0..w * h).flat_map(|i| [(i % w * 255 / w) as u8, (i / w * 255 / h) as u8, 128]).collect();
        Rgb8 { width: w, height: h, pixels }
    }

    #[test]
    fn thumbnails_keep_the_aspect_and_decode_again() {
        let png = encode(&gradient(1024, 512)).unwrap();
        let thumb = decode(&thumbnail(&png).unwrap()).unwrap();
        assert_eq!((thumb.width, thumb.height), (256, 128));
        // The left edge stays dark red-free, the right edge bright: the picture survives.
        assert!(thumb.pixels[0] < 10 && thumb.pixels[(255 * 3) as usize] > 240);
    }

    #[test]
    fn a_truncated_png_is_refused() {
        let png = encode(&gradient(64, 64)).unwrap();
        assert!(decode(&png[..png.len() / 2]).is_err());
        assert!(decode(b"not a png").unwrap_err().contains("not a readable PNG"));
    }
}

//! Decoder round trips for every supported layout, luminance, limits and sniffing.

// Helpers outside #[test] fns unwrap too; clippy.toml allows it only inside them.
#![allow(clippy::unwrap_used)]

use std::io::Cursor;

use tessera_imaging::{
    DecodeLimits, ImageFormat, ImagingError, Raster, decode, encode_png_gray8, encode_png_gray16,
    encode_png_rgb8, encode_tiff_f32, sniff,
};
use tiff::encoder::{TiffEncoder, colortype};

const W: usize = 7;
const H: usize = 5;

fn ramp(max: f32) -> Vec<f32> {
    (0..W * H)
        .map(|i| (i as f32 * max / (W * H) as f32).round())
        .collect()
}

fn decode_one(bytes: &[u8]) -> Raster {
    let mut pages = decode(bytes, &DecodeLimits::default()).unwrap();
    assert_eq!(pages.len(), 1);
    let r = pages.remove(0);
    assert_eq!((r.width, r.height), (W, H));
    r
}

fn tiff_gray<C: colortype::ColorType>(data: &[C::Inner]) -> Vec<u8>
where
    [C::Inner]: tiff::encoder::TiffValue,
{
    let mut out = Cursor::new(Vec::new());
    TiffEncoder::new(&mut out)
        .unwrap()
        .write_image::<C>(W as u32, H as u32, data)
        .unwrap();
    out.into_inner()
}

fn luma(r: f32, g: f32, b: f32) -> f32 {
    0.2126 * r + 0.7152 * g + 0.0722 * b
}

fn assert_close(a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol, "pixel {i}: {x} vs {y}");
    }
}

#[test]
fn png_gray_8_and_16_bit() {
    let v8: Vec<u8> = ramp(255.0).iter().map(|&v| v as u8).collect();
    let got = decode_one(&encode_png_gray8(W, H, &v8).unwrap());
    assert_eq!(
        got.pixels,
        v8.iter().map(|&v| f32::from(v)).collect::<Vec<_>>()
    );
    let v16: Vec<u16> = ramp(65535.0).iter().map(|&v| v as u16).collect();
    let got = decode_one(&encode_png_gray16(W, H, &v16).unwrap());
    assert_eq!(
        got.pixels,
        v16.iter().map(|&v| f32::from(v)).collect::<Vec<_>>()
    );
}

#[test]
fn png_rgb_8_bit_uses_rec709_luminance() {
    let rgb: Vec<u8> = (0..W * H * 3).map(|i| (i * 37 % 256) as u8).collect();
    let got = decode_one(&encode_png_rgb8(W, H, &rgb).unwrap());
    let want: Vec<f32> = rgb
        .chunks(3)
        .map(|p| luma(f32::from(p[0]), f32::from(p[1]), f32::from(p[2])))
        .collect();
    assert_close(&got.pixels, &want, 1e-3);
    // Pure primaries: exactly the coefficients.
    let prim = [255u8, 0, 0, 0, 255, 0, 0, 0, 255];
    let mut pages = decode(
        &encode_png_rgb8(3, 1, &prim).unwrap(),
        &DecodeLimits::default(),
    )
    .unwrap();
    assert_close(
        &pages.remove(0).pixels,
        &[0.2126 * 255.0, 0.7152 * 255.0, 0.0722 * 255.0],
        1e-3,
    );
}

fn png_with(color: png::ColorType, depth: png::BitDepth, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, W as u32, H as u32);
    enc.set_color(color);
    enc.set_depth(depth);
    let mut w = enc.write_header().unwrap();
    w.write_image_data(data).unwrap();
    w.finish().unwrap();
    out
}

#[test]
fn png_rgb_16_bit_rgba_and_gray_alpha() {
    let rgb16: Vec<u16> = (0..W * H * 3).map(|i| (i * 1237 % 65536) as u16).collect();
    let bytes: Vec<u8> = rgb16.iter().flat_map(|v| v.to_be_bytes()).collect();
    let got = decode_one(&png_with(
        png::ColorType::Rgb,
        png::BitDepth::Sixteen,
        &bytes,
    ));
    let want: Vec<f32> = rgb16
        .chunks(3)
        .map(|p| luma(f32::from(p[0]), f32::from(p[1]), f32::from(p[2])))
        .collect();
    assert_close(&got.pixels, &want, 0.05);

    let rgba: Vec<u8> = (0..W * H * 4).map(|i| (i * 11 % 256) as u8).collect();
    let got = decode_one(&png_with(png::ColorType::Rgba, png::BitDepth::Eight, &rgba));
    let want: Vec<f32> = rgba
        .chunks(4)
        .map(|p| luma(f32::from(p[0]), f32::from(p[1]), f32::from(p[2])))
        .collect();
    assert_close(&got.pixels, &want, 1e-3);

    let la: Vec<u8> = (0..W * H * 2).map(|i| (i * 13 % 256) as u8).collect();
    let got = decode_one(&png_with(
        png::ColorType::GrayscaleAlpha,
        png::BitDepth::Eight,
        &la,
    ));
    let want: Vec<f32> = la.chunks(2).map(|p| f32::from(p[0])).collect();
    assert_eq!(got.pixels, want);
}

fn jpeg(color: image::ExtendedColorType, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 100)
        .encode(data, W as u32, H as u32, color)
        .unwrap();
    out
}

#[test]
fn jpeg_gray_and_rgb() {
    let gray: Vec<u8> = (0..W * H).map(|i| (100 + i) as u8).collect();
    let got = decode_one(&jpeg(image::ExtendedColorType::L8, &gray));
    let want: Vec<f32> = gray.iter().map(|&v| f32::from(v)).collect();
    assert_close(&got.pixels, &want, 3.0);

    let rgb: Vec<u8> = (0..W * H).flat_map(|_| [200u8, 100, 50]).collect();
    let got = decode_one(&jpeg(image::ExtendedColorType::Rgb8, &rgb));
    assert_close(&got.pixels, &[luma(200.0, 100.0, 50.0); W * H], 3.0);
}

#[test]
fn tiff_integer_and_float_gray() {
    let u8s: Vec<u8> = (0..W * H).map(|i| (i * 7) as u8).collect();
    let got = decode_one(&tiff_gray::<colortype::Gray8>(&u8s));
    assert_eq!(
        got.pixels,
        u8s.iter().map(|&v| f32::from(v)).collect::<Vec<_>>()
    );

    let u16s: Vec<u16> = (0..W * H).map(|i| (i * 1871) as u16).collect();
    let got = decode_one(&tiff_gray::<colortype::Gray16>(&u16s));
    assert_eq!(
        got.pixels,
        u16s.iter().map(|&v| f32::from(v)).collect::<Vec<_>>()
    );

    let u32s: Vec<u32> = (0..W * H).map(|i| i as u32 * 100_000).collect();
    let got = decode_one(&tiff_gray::<colortype::Gray32>(&u32s));
    assert_eq!(
        got.pixels,
        u32s.iter().map(|&v| v as f32).collect::<Vec<_>>()
    );

    let i16s: Vec<i16> = (0..W * H).map(|i| i as i16 * 900 - 15_000).collect();
    let got = decode_one(&tiff_gray::<colortype::GrayI16>(&i16s));
    assert_eq!(
        got.pixels,
        i16s.iter().map(|&v| f32::from(v)).collect::<Vec<_>>()
    );

    let f32s: Vec<f32> = (0..W * H).map(|i| i as f32 * 0.25 - 3.5).collect();
    let got = decode_one(&tiff_gray::<colortype::Gray32Float>(&f32s));
    assert_eq!(got.pixels, f32s);

    let f64s: Vec<f64> = (0..W * H).map(|i| i as f64 * 1e-3 - 0.01).collect();
    let got = decode_one(&tiff_gray::<colortype::Gray64Float>(&f64s));
    assert_eq!(
        got.pixels,
        f64s.iter().map(|&v| v as f32).collect::<Vec<_>>()
    );

    let r = Raster::new(W, H, f32s.clone()).unwrap();
    assert_eq!(decode_one(&encode_tiff_f32(&r).unwrap()).pixels, f32s);
}

#[test]
fn tiff_rgb_and_rgba() {
    let rgb: Vec<u8> = (0..W * H * 3).map(|i| (i * 29 % 256) as u8).collect();
    let got = decode_one(&tiff_gray::<colortype::RGB8>(&rgb));
    let want: Vec<f32> = rgb
        .chunks(3)
        .map(|p| luma(f32::from(p[0]), f32::from(p[1]), f32::from(p[2])))
        .collect();
    assert_close(&got.pixels, &want, 1e-3);

    let rgba: Vec<u16> = (0..W * H * 4).map(|i| (i * 997 % 65536) as u16).collect();
    let got = decode_one(&tiff_gray::<colortype::RGBA16>(&rgba));
    let want: Vec<f32> = rgba
        .chunks(4)
        .map(|p| luma(f32::from(p[0]), f32::from(p[1]), f32::from(p[2])))
        .collect();
    assert_close(&got.pixels, &want, 0.05);
}

#[test]
fn tiff_compressed_pages_decode() {
    use tiff::encoder::Compression;
    let u16s: Vec<u16> = (0..W * H).map(|i| (i * 3) as u16).collect();
    for c in [
        Compression::Lzw,
        Compression::Packbits,
        Compression::Deflate(Default::default()),
    ] {
        let mut out = Cursor::new(Vec::new());
        TiffEncoder::new(&mut out)
            .unwrap()
            .with_compression(c)
            .write_image::<colortype::Gray16>(W as u32, H as u32, &u16s)
            .unwrap();
        let got = decode_one(out.get_ref());
        assert_eq!(
            got.pixels,
            u16s.iter().map(|&v| f32::from(v)).collect::<Vec<_>>()
        );
    }
}

#[test]
fn multi_page_tiff_gives_one_raster_per_page() {
    let mut out = Cursor::new(Vec::new());
    let mut enc = TiffEncoder::new(&mut out).unwrap();
    for page in 0..3u16 {
        let data: Vec<u16> = (0..W * H).map(|i| i as u16 + page * 1000).collect();
        enc.write_image::<colortype::Gray16>(W as u32, H as u32, &data)
            .unwrap();
    }
    // A page of another size and type.
    enc.write_image::<colortype::Gray8>(3, 2, &[1, 2, 3, 4, 5, 6])
        .unwrap();
    let bytes = out.into_inner();
    let pages = decode(&bytes, &DecodeLimits::default()).unwrap();
    assert_eq!(pages.len(), 4);
    for (p, r) in pages.iter().take(3).enumerate() {
        assert_eq!(r.pixels[0], (p * 1000) as f32);
        assert_eq!(r.pixels[W * H - 1], (W * H - 1 + p * 1000) as f32);
    }
    assert_eq!((pages[3].width, pages[3].height), (3, 2));

    let limits = DecodeLimits {
        max_pages: 2,
        ..DecodeLimits::default()
    };
    let e = decode(&bytes, &limits).unwrap_err();
    assert_eq!(e, ImagingError::TooManyPages { limit: 2 });
    assert!(e.to_string().contains("raise --max-pages"));
}

#[test]
fn pixel_limit_is_checked_for_every_format() {
    let r = Raster::new(W, H, ramp(255.0)).unwrap();
    let limits = DecodeLimits {
        max_pixels: 34,
        ..DecodeLimits::default()
    };
    let files = [
        encode_png_gray8(W, H, &[0; W * H]).unwrap(),
        jpeg(image::ExtendedColorType::L8, &[9u8; W * H]),
        encode_tiff_f32(&r).unwrap(),
    ];
    for bytes in files {
        let e = decode(&bytes, &limits).unwrap_err();
        assert_eq!(
            e,
            ImagingError::TooManyPixels {
                width: 7,
                height: 5,
                pixels: 35,
                limit: 34
            }
        );
        assert_eq!(
            e.to_string(),
            "image is 7 × 5 = 35 pixels, over the limit of 34; raise --max-pixels if this is intended"
        );
    }
}

#[test]
fn sniffing_uses_magic_bytes() {
    assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Ok(ImageFormat::Png));
    assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Ok(ImageFormat::Jpeg));
    assert_eq!(sniff(b"II*\0...."), Ok(ImageFormat::Tiff));
    assert_eq!(sniff(b"MM\0*...."), Ok(ImageFormat::Tiff));
    assert_eq!(sniff(b"II+\0...."), Ok(ImageFormat::Tiff));
    assert_eq!(sniff(b"GIF89a.."), Err("GIF".to_string()));
    assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Err("WebP".to_string()));
    let e = decode(b"BM\0\0\0\0", &DecodeLimits::default()).unwrap_err();
    let m = e.to_string();
    assert!(
        m.starts_with("BMP is not a supported image format") && m.contains("PNG"),
        "{m}"
    );
    assert!(m.contains("JPEG") && m.contains("TIFF"), "{m}");
    let m = decode(&[1, 2, 3], &DecodeLimits::default())
        .unwrap_err()
        .to_string();
    assert!(m.contains("first bytes: 01 02 03"), "{m}");
}

/// A JPEG whose header declares far more pixels than its bytes could encode is refused at
/// once instead of being decoded into gray (the fuzz target's slow input, now a seed).
#[test]
fn jpeg_declaring_more_pixels_than_its_bytes_hold_is_refused_at_once() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/decode_image/bad-jpeg-sparse-65286x1023.jpg"
    );
    let bytes = std::fs::read(path).unwrap();
    let start = std::time::Instant::now();
    let err = decode(&bytes, &DecodeLimits::default()).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ImagingError::Implausible { .. }), "{text}");
    assert!(text.contains("65286 × 1023"), "{text}");
    assert!(text.contains(&format!("{} bytes", bytes.len())), "{text}");
    eprintln!("refused in {:?}: {text}", start.elapsed());
}

/// The density floor leaves real JPEGs alone, even the most compressible: a constant image
/// at quality 1, gray and colour, large enough for the density to matter.
#[test]
fn constant_jpegs_at_the_lowest_quality_still_decode() {
    let (w, h) = (4096u32, 2048u32);
    for (color, channels) in [
        (image::ExtendedColorType::L8, 1usize),
        (image::ExtendedColorType::Rgb8, 3),
    ] {
        let data = vec![128u8; w as usize * h as usize * channels];
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 1)
            .encode(&data, w, h, color)
            .unwrap();
        let density = f64::from(w) * f64::from(h) / out.len() as f64;
        eprintln!(
            "{color:?}: {} bytes, {density:.0} pixels per byte",
            out.len()
        );
        let got = decode(&out, &DecodeLimits::default()).unwrap();
        assert_eq!((got[0].width, got[0].height), (w as usize, h as usize));
    }
}

//! Decoding thousands of deterministically damaged copies of valid files never panics
//! (neither in this crate nor, caught by the panic hook, inside the third-party decoders).

// Helpers outside #[test] fns unwrap too; clippy.toml allows it only inside them.
#![allow(clippy::unwrap_used)]

use std::io::Cursor;
use std::sync::atomic::{AtomicUsize, Ordering};

use tessera_imaging::{DecodeLimits, decode, encode_png_gray16, encode_png_rgb8};
use tiff::encoder::{Compression, TiffEncoder, colortype};

static PANICS: AtomicUsize = AtomicUsize::new(0);

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let (w, h) = (24usize, 16usize);
    let gray: Vec<u16> = (0..w * h).map(|i| (i * 613 % 65536) as u16).collect();
    let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 31 % 256) as u8).collect();
    let jpeg = {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
            .encode(&rgb, w as u32, h as u32, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    };
    let tiff = |compression: Compression| {
        let mut out = Cursor::new(Vec::new());
        let mut enc = TiffEncoder::new(&mut out)
            .unwrap()
            .with_compression(compression);
        let data: Vec<u16> = (0..w * h).map(|i| (i * 97) as u16).collect();
        enc.write_image::<colortype::Gray16>(w as u32, h as u32, &data)
            .unwrap();
        let f: Vec<f32> = (0..w * h).map(|i| i as f32 * 0.5).collect();
        enc.write_image::<colortype::Gray32Float>(w as u32, h as u32, &f)
            .unwrap();
        out.into_inner()
    };
    vec![
        ("png16", encode_png_gray16(w, h, &gray).unwrap()),
        ("png-rgb", encode_png_rgb8(w, h, &rgb).unwrap()),
        ("jpeg", jpeg),
        ("tiff", tiff(Compression::Uncompressed)),
        ("tiff-lzw", tiff(Compression::Lzw)),
        (
            "tiff-deflate",
            tiff(Compression::Deflate(Default::default())),
        ),
        ("tiff-packbits", tiff(Compression::Packbits)),
    ]
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(7) {
            0 => v.truncate(rng.below(len)),
            1 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            2 => {
                let i = rng.below(len);
                v[i] = [0, 0xFF, 0x7F, 0x80, 1][rng.below(5)];
            }
            3 => {
                let i = rng.below(len);
                v.insert(i, rng.below(256) as u8);
            }
            4 if len > 1 => {
                v.remove(rng.below(len));
            }
            5 => {
                // Overwrite 4 bytes in the first 256 (headers, IFD entries, chunk lengths).
                let i = rng.below(len.min(256).saturating_sub(4));
                let x = [0u32, 1, 0xFFFF, 0xFFFF_FFFF, 100_000, 7][rng.below(6)];
                if i + 4 <= v.len() {
                    v[i..i + 4].copy_from_slice(&x.to_le_bytes());
                }
            }
            _ => {
                let i = rng.below(len);
                v[i] = rng.below(256) as u8;
            }
        }
        if v.is_empty() {
            break;
        }
    }
    v
}

#[test]
fn mutated_files_never_panic() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));
    let limits = DecodeLimits {
        max_pixels: 1 << 20,
        max_pages: 16,
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut ok, mut err) = (0, 0);
    for (name, seed) in seeds() {
        assert!(decode(&seed, &limits).is_ok(), "{name} seed must decode");
        for _ in 0..1000 {
            let bytes = mutate(&seed, &mut rng);
            match decode(&bytes, &limits) {
                Ok(pages) => {
                    ok += 1;
                    for p in pages {
                        assert_eq!(p.pixels.len(), p.width * p.height);
                    }
                }
                Err(e) => {
                    err += 1;
                    assert!(!e.to_string().is_empty());
                }
            }
        }
    }
    let _ = std::panic::take_hook();
    println!("{ok} decoded, {err} refused");
    assert_eq!(
        PANICS.load(Ordering::SeqCst),
        0,
        "a decoder panicked (caught by the guard)"
    );
}

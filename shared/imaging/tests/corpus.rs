//! The bad-file corpus: every file in `tests/corpus/bad/` must give its expected error
//! (a substring of the message, listed in `corpus.toml`) and never panic.
//!
//! The files are committed. To rebuild them after changing the generator below:
//! `cargo test -p tessera-imaging --test corpus -- --ignored regenerate_bad_corpus`

// Helpers outside #[test] fns unwrap too; clippy.toml allows it only inside them.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::PathBuf;
use std::time::Instant;

use tessera_imaging::{DecodeLimits, decode, encode_png_gray8};
use tiff::encoder::{TiffEncoder, colortype};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/bad")
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    /// File name → substring its error message must contain.
    expect: BTreeMap<String, String>,
}

#[test]
fn bad_corpus_gives_clear_errors() {
    let dir = corpus_dir();
    let manifest: Manifest =
        toml::from_str(&std::fs::read_to_string(dir.join("corpus.toml")).unwrap()).unwrap();
    // Every file is listed and every listed file exists.
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "corpus.toml")
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, manifest.expect.keys().cloned().collect::<Vec<_>>());

    for (name, expected) in &manifest.expect {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        assert!(bytes.len() <= 16 * 1024, "{name} should stay tiny");
        let t = Instant::now();
        let err = match decode(&bytes, &DecodeLimits::default()) {
            Ok(pages) => panic!("{name} decoded to {} pages but should fail", pages.len()),
            Err(e) => e.to_string(),
        };
        assert!(
            t.elapsed().as_millis() < 200,
            "{name} took {:?} to fail",
            t.elapsed()
        );
        assert!(
            err.contains(expected.as_str()),
            "{name}: {err:?} lacks {expected:?}"
        );
        println!("{name:<24} {err}");
    }
}

// ---------------------------------------------------------------------------------------------
// The generator.

/// What each generated file must say, in the manifest.
fn corpus() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let ramp: Vec<u8> = (0..16 * 16).map(|i| i as u8).collect();
    let good_png = encode_png_gray8(16, 16, &ramp).unwrap();
    let good_jpeg = {
        let mut out = Vec::new();
        let gray: Vec<u8> = (0..32 * 32).map(|i| (i * 7 % 256) as u8).collect();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode(&gray, 32, 32, image::ExtendedColorType::L8)
            .unwrap();
        out
    };
    let good_tiff = {
        let mut out = Cursor::new(Vec::new());
        let data: Vec<u16> = (0..32 * 32).map(|i| i as u16).collect();
        TiffEncoder::new(&mut out)
            .unwrap()
            .write_image::<colortype::Gray16>(32, 32, &data)
            .unwrap();
        out.into_inner()
    };
    let pixels = |n: usize, bytes_per: usize| vec![7u8; n * bytes_per];
    let mut nan = pixels(4, 4);
    nan[4..8].copy_from_slice(&f32::NAN.to_le_bytes());
    let mut inf = pixels(4, 4);
    inf[0..4].copy_from_slice(&f32::INFINITY.to_le_bytes());
    inf[8..12].copy_from_slice(&f32::NEG_INFINITY.to_le_bytes());

    // A valid page whose next-IFD pointer points back at itself.
    let mut ifd_loop = tiff_le(2, 2, 8, 1, 1, 1, &pixels(4, 1));
    let next = 8 + 2 + 10 * 12;
    ifd_loop[next..next + 4].copy_from_slice(&8u32.to_le_bytes());

    // A PNG whose IDAT has its CRC intact but the zlib stream inside is garbage.
    let bad_deflate = png_from_chunks(&[
        (*b"IHDR", ihdr(4, 4, 8, 0)),
        (
            *b"IDAT",
            vec![0x78, 0x9c, 0xff, 0xff, 0xff, 0xff, 0x00, 0x11, 0x22],
        ),
        (*b"IEND", vec![]),
    ]);
    // The good PNG with one byte of its IHDR CRC flipped.
    let mut bad_crc = good_png.clone();
    bad_crc[8 + 8 + 13] ^= 0x55;

    vec![
        ("empty.png", vec![], "empty (0 bytes)"),
        (
            "truncated.png",
            good_png[..good_png.len() * 2 / 3].to_vec(),
            "PNG data is",
        ),
        (
            "truncated_header.png",
            good_png[..20].to_vec(),
            "PNG data is",
        ),
        ("bad_crc.png", bad_crc, "PNG data is corrupt"),
        ("bad_deflate.png", bad_deflate, "PNG data is corrupt"),
        (
            "zero_width.png",
            png_from_chunks(&[(*b"IHDR", ihdr(0, 4, 8, 0))]),
            "PNG image has zero size",
        ),
        (
            "huge_header.png",
            png_from_chunks(&[(*b"IHDR", ihdr(100_000, 100_000, 8, 0))]),
            "100000 × 100000 = 10000000000 pixels, over the limit",
        ),
        (
            "truncated.jpg",
            good_jpeg[..good_jpeg.len() * 2 / 3].to_vec(),
            "JPEG data is truncated",
        ),
        (
            "truncated_header.jpg",
            good_jpeg[..40].to_vec(),
            "JPEG data is truncated",
        ),
        (
            "truncated.tif",
            good_tiff[..good_tiff.len() / 2].to_vec(),
            "TIFF data is truncated",
        ),
        (
            "truncated_header.tif",
            good_tiff[..6].to_vec(),
            "TIFF data is truncated",
        ),
        (
            "truncated_data.tif",
            tiff_le(64, 64, 16, 1, 1, 1, &pixels(16, 1)),
            "needs 8192 bytes of pixel data, but the whole file is",
        ),
        ("ifd_loop.tif", ifd_loop, "TIFF data is corrupt"),
        (
            "huge_header.tif",
            tiff_le(100_000, 100_000, 8, 1, 1, 1, &pixels(16, 1)),
            "100000 × 100000 = 10000000000 pixels, over the limit of 268435456; raise --max-pixels",
        ),
        (
            "zero_width.tif",
            tiff_le(0, 4, 8, 1, 1, 1, &[]),
            "zero size (0 × 4 pixels)",
        ),
        (
            "one_bit.tif",
            tiff_le(8, 2, 1, 1, 1, 1, &pixels(2, 1)),
            "TIFF 1-bit unsigned integer sample depth is not supported",
        ),
        (
            "twelve_bit.tif",
            tiff_le(4, 4, 12, 1, 1, 1, &pixels(24, 1)),
            "TIFF 12-bit unsigned integer sample depth is not supported",
        ),
        (
            "complex_int.tif",
            tiff_le(2, 2, 32, 1, 5, 1, &pixels(4, 4)),
            "TIFF sample format 'complex int' is not supported; convert to 8/16/32-bit integer",
        ),
        (
            "palette.tif",
            tiff_le(2, 2, 8, 1, 1, 3, &pixels(4, 1)),
            "TIFF palette (indexed) colour is not supported",
        ),
        (
            "cmyk.tif",
            tiff_le(2, 2, 8, 4, 1, 5, &pixels(4, 4)),
            "TIFF CMYK colour is not supported",
        ),
        (
            "nan.tif",
            tiff_le(2, 2, 32, 1, 3, 1, &nan),
            "1 NaN and 0 infinite values",
        ),
        (
            "inf.tif",
            tiff_le(2, 2, 32, 1, 3, 1, &inf),
            "0 NaN and 2 infinite values",
        ),
        (
            "random.bin",
            random_bytes(512),
            "unrecognised data (first bytes:",
        ),
        (
            "tiny.gif",
            tiny_gif(),
            "GIF is not a supported image format; supported formats are PNG",
        ),
        (
            "tiny.bmp",
            tiny_bmp(),
            "BMP is not a supported image format",
        ),
        (
            "tiny.webp",
            b"RIFF\x1a\0\0\0WEBPVP8L\x0d\0\0\0\x2f\0\0\0\x10\x07\x10\x11\x11\x88\x88\xfe\x07\0"
                .to_vec(),
            "WebP is not a supported",
        ),
    ]
}

#[test]
#[ignore = "writes tests/corpus/bad; run by hand after changing the generator"]
fn regenerate_bad_corpus() {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let mut manifest = String::from(
        "# Bad-file corpus: file name = a substring its decode error must contain.\n\
         # Regenerate: cargo test -p tessera-imaging --test corpus -- --ignored regenerate_bad_corpus\n\
         [expect]\n",
    );
    for (name, bytes, expected) in corpus() {
        std::fs::write(dir.join(name), bytes).unwrap();
        manifest.push_str(&format!("{name:?} = {expected:?}\n"));
    }
    std::fs::write(dir.join("corpus.toml"), manifest).unwrap();
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut s = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

/// A little-endian single-strip TIFF with the given layout; `data` is the strip.
fn tiff_le(
    w: u32,
    h: u32,
    bits: u16,
    spp: u16,
    format: u16,
    photometric: u16,
    data: &[u8],
) -> Vec<u8> {
    let entries: Vec<(u16, u16, u32)> = vec![
        (256, 4, w),               // ImageWidth
        (257, 4, h),               // ImageLength
        (258, 3, u32::from(bits)), // BitsPerSample (one value for all samples)
        (259, 3, 1),               // Compression: none
        (262, 3, u32::from(photometric)),
        (273, 4, 0),                 // StripOffsets, patched below
        (277, 3, u32::from(spp)),    // SamplesPerPixel
        (278, 4, h.max(1)),          // RowsPerStrip
        (279, 4, data.len() as u32), // StripByteCounts
        (339, 3, u32::from(format)), // SampleFormat
    ];
    let ifd_len = 2 + entries.len() * 12 + 4;
    let data_offset = (8 + ifd_len) as u32;
    let mut out = b"II*\0".to_vec();
    out.extend_from_slice(&8u32.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, typ, value) in entries {
        let value = if tag == 273 { data_offset } else { value };
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&typ.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        if typ == 3 {
            out.extend_from_slice(&(value as u16).to_le_bytes());
            out.extend_from_slice(&[0, 0]);
        } else {
            out.extend_from_slice(&value.to_le_bytes());
        }
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(data);
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn ihdr(w: u32, h: u32, depth: u8, colour: u8) -> Vec<u8> {
    let mut v = w.to_be_bytes().to_vec();
    v.extend_from_slice(&h.to_be_bytes());
    v.extend_from_slice(&[depth, colour, 0, 0, 0]);
    v
}

fn png_from_chunks(chunks: &[([u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in chunks {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    out
}

fn tiny_gif() -> Vec<u8> {
    // 1 × 1 GIF89a, black pixel.
    let mut v = b"GIF89a\x01\0\x01\0\x80\0\0\0\0\0\xff\xff\xff".to_vec();
    v.extend_from_slice(b",\0\0\0\0\x01\0\x01\0\0\x02\x02D\x01\0;");
    v
}

fn tiny_bmp() -> Vec<u8> {
    // 1 × 1, 24-bit BMP.
    let mut v = b"BM".to_vec();
    v.extend_from_slice(&58u32.to_le_bytes());
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(&54u32.to_le_bytes());
    v.extend_from_slice(&40u32.to_le_bytes());
    v.extend_from_slice(&1i32.to_le_bytes());
    v.extend_from_slice(&1i32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&24u16.to_le_bytes());
    v.extend_from_slice(&[0; 24]);
    v.extend_from_slice(&[0, 0, 255, 0]);
    v
}

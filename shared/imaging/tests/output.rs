//! Outputs: label TIFF round trip, palette, overlay PNG.

// Helpers outside #[test] fns unwrap too; clippy.toml allows it only inside them.
#![allow(clippy::unwrap_used)]

use tessera_imaging::{
    ImagingError, LegendEntry, NO_LABEL, PALETTE, Raster, decode_labels_tiff, encode_labels_tiff,
    palette_color, render_overlay,
};

#[test]
fn labels_tiff_round_trip() {
    let (w, h) = (37, 23);
    let labels: Vec<u32> = (0..w * h)
        .map(|i| {
            if i % 11 == 0 {
                NO_LABEL
            } else {
                (i % 7) as u32 * 9000
            }
        })
        .collect();
    let bytes = encode_labels_tiff(&labels, w, h).unwrap();
    let (dw, dh, back) = decode_labels_tiff(&bytes).unwrap();
    assert_eq!((dw, dh), (w, h));
    for (a, &b) in labels.iter().zip(&back) {
        let expect = if *a == NO_LABEL { 65535 } else { *a as u16 };
        assert_eq!(b, expect);
    }
    // It is also an ordinary 16-bit TIFF for the image decoder.
    let pages = tessera_imaging::decode(&bytes, &Default::default()).unwrap();
    assert_eq!(pages[0].pixels[1], 9000.0);
}

#[test]
fn labels_tiff_refuses_what_it_cannot_store() {
    assert_eq!(
        encode_labels_tiff(&[0, 65535], 2, 1).unwrap_err(),
        ImagingError::LabelTooLarge { label: 65535 }
    );
    assert!(
        encode_labels_tiff(&[0, 70000], 2, 1)
            .unwrap_err()
            .to_string()
            .contains("label 70000")
    );
    assert!(matches!(
        encode_labels_tiff(&[0; 3], 2, 1),
        Err(ImagingError::LabelMismatch(_))
    ));
    assert!(encode_labels_tiff(&[], 0, 0).is_err());
    // A float TIFF is not a label map.
    let f = tessera_imaging::encode_tiff_f32(&Raster::new(2, 1, vec![0.0, 1.0]).unwrap()).unwrap();
    assert!(
        decode_labels_tiff(&f)
            .unwrap_err()
            .to_string()
            .contains("16-bit unsigned")
    );
    assert_eq!(decode_labels_tiff(&[]).unwrap_err(), ImagingError::Empty);
    assert!(decode_labels_tiff(b"II*\0garbage").is_err());
}

#[test]
fn palette_is_distinct_and_cycles() {
    for (i, a) in PALETTE.iter().enumerate() {
        for b in &PALETTE[i + 1..] {
            let d: i32 = a
                .iter()
                .zip(b)
                .map(|(&x, &y)| (i32::from(x) - i32::from(y)).pow(2))
                .sum();
            assert!(d > 60 * 60, "{a:?} and {b:?} are too close");
        }
        // Not gray: the overlay sits on a grayscale image.
        let spread = a.iter().max().unwrap() - a.iter().min().unwrap();
        assert!(spread >= 60, "{a:?} is too gray");
    }
    assert_eq!(palette_color(3), palette_color(23));
    assert_ne!(palette_color(0), palette_color(1));
}

fn decode_png(bytes: &[u8]) -> image::RgbImage {
    image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
        .unwrap()
        .to_rgb8()
}

#[test]
fn overlay_blends_draws_boundaries_and_a_legend() {
    let (w, h) = (40, 20);
    let img = Raster::new(w, h, vec![0.5; w * h]).unwrap();
    // Left half label 0, right half label 1, bottom-right corner hidden.
    let labels: Vec<u32> = (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            if x >= 30 && y >= 15 {
                NO_LABEL
            } else if x < 20 {
                0
            } else {
                1
            }
        })
        .collect();
    let legend = vec![
        LegendEntry {
            label: 0,
            text: "0  50.0 %  (2 chips)".into(),
        },
        LegendEntry {
            label: 1,
            text: "1  45.0 %".into(),
        },
        LegendEntry {
            label: NO_LABEL,
            text: "hidden".into(),
        },
    ];
    let png = render_overlay(&img, &labels, 0.4, &legend).unwrap();
    let out = decode_png(&png);
    assert!(out.width() as usize > w, "legend panel to the right");
    let blend = |c: [u8; 3], a: f32| c.map(|v| (127.5 * (1.0 - a) + f32::from(v) * a + 0.5) as u8);
    // Interior pixels: alpha 0.4. Boundary pixels (x = 19, 20): alpha 0.8. Hidden: gray.
    assert_eq!(out.get_pixel(5, 5).0, blend(palette_color(0), 0.4));
    assert_eq!(out.get_pixel(25, 5).0, blend(palette_color(1), 0.4));
    assert_eq!(out.get_pixel(19, 5).0, blend(palette_color(0), 0.8));
    assert_eq!(out.get_pixel(20, 5).0, blend(palette_color(1), 0.8));
    assert_eq!(out.get_pixel(35, 18).0, [128, 128, 128]);
    // The legend has a swatch of each colour and some dark text pixels.
    let panel: Vec<[u8; 3]> = (0..out.height())
        .flat_map(|y| (w as u32..out.width()).map(move |x| (x, y)))
        .map(|(x, y)| out.get_pixel(x, y).0)
        .collect();
    assert!(panel.contains(&palette_color(0)) && panel.contains(&palette_color(1)));
    assert!(panel.iter().filter(|p| **p == [0, 0, 0]).count() > 50);
}

#[test]
fn overlay_without_legend_has_the_image_size_and_alpha_zero_is_gray() {
    let img = Raster::new(3, 2, vec![0.0, 0.5, 1.0, 2.0, -1.0, 0.25]).unwrap();
    let png = render_overlay(&img, &[0, 0, 0, 0, 0, 0], 0.0, &[]).unwrap();
    let out = decode_png(&png);
    assert_eq!((out.width(), out.height()), (3, 2));
    let grays: Vec<u8> = out.pixels().map(|p| p.0[0]).collect();
    assert_eq!(grays, vec![0, 128, 255, 255, 0, 64]);
}

#[test]
fn legend_scales_with_big_images() {
    let (w, h) = (2048, 64);
    let img = Raster::new(w, h, vec![0.2; w * h]).unwrap();
    let legend = vec![LegendEntry {
        label: 0,
        text: "abc".into(),
    }];
    let out = decode_png(&render_overlay(&img, &vec![0; w * h], 0.4, &legend).unwrap());
    // Scale 4: padding 32 + swatch/gap 48 + 3 chars × 32 + padding 32 = 208 px of panel;
    // the panel is taller than the image, so the canvas grows to fit it.
    assert_eq!(out.width() as usize, w + 208);
    assert_eq!(out.height() as usize, 32 + 48 + 32);
}

#[test]
fn overlay_refuses_bad_input() {
    let img = Raster::new(2, 2, vec![0.0; 4]).unwrap();
    assert!(matches!(
        render_overlay(&img, &[0; 3], 0.4, &[]),
        Err(ImagingError::LabelMismatch(_))
    ));
    for alpha in [-0.1, 1.5, f32::NAN] {
        assert!(
            render_overlay(&img, &[0; 4], alpha, &[])
                .unwrap_err()
                .to_string()
                .contains("alpha")
        );
    }
    let bad = Raster {
        width: 2,
        height: 2,
        pixels: vec![],
    };
    assert!(render_overlay(&bad, &[0; 4], 0.4, &[]).is_err());
}

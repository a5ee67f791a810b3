//! Synthetic BCF files built here: an SFS container, a header and a packed map, valid and
//! damaged.
#![allow(clippy::unwrap_used)]

use std::io::Write;

use super::*;
use crate::NoCompanions;

/// Writes an SFS container with the folder "EDSDatabase" holding `files`.
fn sfs(files: &[(&str, Vec<u8>)], chunk: usize) -> Vec<u8> {
    sfs_in("EDSDatabase", files, chunk)
}

/// Writes an SFS container with the folder `folder` holding `files`.
fn sfs_in(folder: &str, files: &[(&str, Vec<u8>)], chunk: usize) -> Vec<u8> {
    let payload = chunk - 32;
    let per_tree = payload / 512;
    let n_entries = files.len() + 1;
    let tree_chunks = n_entries.div_ceil(per_tree);
    // Chunk 0 is the container head; the table follows, then each file's pointer table
    // and data.
    let mut chunks: Vec<(u32, Vec<u8>)> = vec![(0, Vec::new())];
    let tree_at = chunks.len();
    let mut tree = Vec::new();
    let entry = |table: i32, size: u64, parent: i32, dir: bool, name: &str| {
        let mut e = vec![0u8; 512];
        e[0..4].copy_from_slice(&table.to_le_bytes());
        e[4..12].copy_from_slice(&size.to_le_bytes());
        e[40..44].copy_from_slice(&parent.to_le_bytes());
        e[220] = u8::from(dir);
        e[224..224 + name.len()].copy_from_slice(name.as_bytes());
        e
    };
    tree.push(entry(-1, 0, -1, true, folder));
    let mut next = tree_at + tree_chunks;
    let mut bodies = Vec::new();
    for (name, data) in files {
        let n_data = data.len().div_ceil(payload).max(1);
        let n_table = n_data.div_ceil(payload / 4);
        let table_at = next;
        let data_at = table_at + n_table;
        next = data_at + n_data;
        tree.push(entry(table_at as i32, data.len() as u64, 0, false, name));
        let pointers: Vec<u8> = (data_at..data_at + n_data)
            .flat_map(|k| (k as u32).to_le_bytes())
            .collect();
        bodies.push((table_at, n_table, pointers, data_at, data.clone()));
    }
    for (i, part) in tree.chunks(per_tree).enumerate() {
        let link = if i + 1 < tree_chunks {
            tree_at + i + 1
        } else {
            0
        };
        chunks.push((link as u32, part.concat()));
    }
    for (table_at, n_table, pointers, _data_at, data) in bodies {
        for (i, part) in pointers.chunks(payload / 4 * 4).enumerate() {
            let link = if i + 1 < n_table { table_at + i + 1 } else { 0 };
            chunks.push((link as u32, part.to_vec()));
        }
        for part in data.chunks(payload) {
            chunks.push((0, part.to_vec()));
        }
    }
    assert_eq!(chunks.len(), next);
    let mut out = vec![0u8; 0x118 + chunk * chunks.len()];
    for (k, (link, body)) in chunks.iter().enumerate() {
        let at = 0x118 + k * chunk;
        out[at..at + 4].copy_from_slice(&link.to_le_bytes());
        out[at + 32..at + 32 + body.len()].copy_from_slice(body);
    }
    out[0..8].copy_from_slice(b"AAMVHFSS");
    out[0x124..0x128].copy_from_slice(&2.6f32.to_le_bytes());
    out[0x128..0x12C].copy_from_slice(&(chunk as u32).to_le_bytes());
    out[0x140..0x144].copy_from_slice(&(tree_at as u32).to_le_bytes());
    out[0x144..0x148].copy_from_slice(&(n_entries as u32).to_le_bytes());
    out[0x148..0x14C].copy_from_slice(&(chunks.len() as u32).to_le_bytes());
    out
}

/// Compresses `data` the way Esprit does ("AACS" head, zlib blocks from 0x80).
fn aacs(data: &[u8], block: usize) -> Vec<u8> {
    let blocks: Vec<&[u8]> = data.chunks(block).collect();
    let mut out = vec![0u8; 0x80];
    out[0..4].copy_from_slice(b"AACS");
    out[4..8].copy_from_slice(&(block as u32).to_le_bytes());
    out[12..16].copy_from_slice(&(blocks.len() as u32).to_le_bytes());
    for b in blocks {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(b).unwrap();
        let z = z.finish().unwrap();
        for v in [z.len(), b.len(), 0, z.len() + 16] {
            out.extend_from_slice(&(v as u32).to_le_bytes());
        }
        out.extend_from_slice(&z);
    }
    out
}

fn b64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in bytes.chunks(3) {
        let v = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[(v >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// A header for a `w` × `h` map of `channels` channels with a BSE plane holding
/// `0, 1, 2, ...` and an empty SE plane.
fn header_xml(w: usize, h: usize, channels: usize, sum: &[u64]) -> String {
    let bse: Vec<u8> = (0..w * h)
        .flat_map(|i| (i as u16).wrapping_mul(100).to_le_bytes())
        .collect();
    let se = vec![0u8; w * h * 2];
    let sum: Vec<String> = sum.iter().map(u64::to_string).collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"WINDOWS-1252\" standalone=\"yes\"?>\
<TRTSpectrumDatabase><RTHeader/><ClassInstance Type=\"TRTSpectrumDatabase\" Name=\"Synthetic\">\
<Header><Date>9.8.2016</Date><Time>14:8:10</Time><FileVersion>1</FileVersion></Header>\
<ClassInstance Type=\"TRTSEMData\"><HV>2E1</HV><WD>8,5</WD><Mag>1500</Mag>\
<DX>0.25</DX><DY>0.5</DY></ClassInstance>\
<ClassInstance Type=\"TRTSEMStageData\"><X>1.5</X><Y>2</Y></ClassInstance>\
<ClassInstance Type=\"TRTDSPConfiguration\"><ImageWidth>{w}</ImageWidth>\
<ImageHeight>{h}</ImageHeight></ClassInstance>\
<ClassInstance Type=\"TRTImageData\"><ItemSize>2</ItemSize><Width>{w}</Width>\
<Height>{h}</Height><PlaneCount>2</PlaneCount><XCalibration>0</XCalibration>\
<YCalibration>0</YCalibration>\
<Plane0><Description>BSE</Description><Data>{}</Data></Plane0>\
<Plane1><Description>SE</Description><Data>{}</Data></Plane1></ClassInstance>\
<ClassInstance Type=\"TRTImageData\" Name=\"PixelTimes\"><ItemSize>4</ItemSize>\
<Width>{w}</Width><Height>{h}</Height><PlaneCount>0</PlaneCount></ClassInstance>\
<ClassInstance Type=\"TRTContainerClass\" Name=\"Synthetic\"><ChildClassInstances>\
<ClassInstance Type=\"TRTElementInformationList\" Name=\"Elements\">\
<ClassInstance Type=\"TRTSpectrumRegionList\" Name=\"Regions\"><ChildClassInstances>\
<ClassInstance Type=\"TRTSpectrumRegion\" Name=\"Si\"><Line>KA</Line><Energy>1.7398</Energy>\
</ClassInstance></ChildClassInstances></ClassInstance></ClassInstance>\
</ChildClassInstances></ClassInstance>\
<ChCount>4096</ChCount><DetectorCount>1</DetectorCount>\
<SpectrumData0><ClassInstance Type=\"TRTSpectrum\"><TRTHeaderedClass>\
<ClassInstance Type=\"TRTDetectorHeader\"><Type>XFlash \u{b5}</Type></ClassInstance>\
<ClassInstance Type=\"TRTESMAHeader\"><PrimaryEnergy>2E1</PrimaryEnergy>\
<ElevationAngle>35</ElevationAngle></ClassInstance></TRTHeaderedClass>\
<ClassInstance Type=\"TRTSpectrumHeader\"><ChannelCount>{channels}</ChannelCount>\
<CalibAbs>-4.7E-1</CalibAbs><CalibLin>1E-2</CalibLin></ClassInstance>\
<Channels>{},</Channels></ClassInstance></SpectrumData0></ClassInstance></TRTSpectrumDatabase>",
        b64(&bse),
        b64(&se),
        sum.join(","),
    )
}

/// Encodes the header in Windows-1252 (the test header's only non-ASCII letter is µ).
fn cp1252(s: &str) -> Vec<u8> {
    s.chars().map(|c| c as u32 as u8).collect()
}

/// One pixel: x, flag, pulse count, data (and extra pulses after it for flag > 1).
fn pixel(x: u32, flag: u16, pulses: u16, data: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&x.to_le_bytes());
    p.extend_from_slice(&16u16.to_le_bytes());
    p.extend_from_slice(&0u16.to_le_bytes());
    p.extend_from_slice(&0x000C_0000u32.to_le_bytes());
    p.extend_from_slice(&flag.to_le_bytes());
    p.extend_from_slice(&0u16.to_le_bytes());
    p.extend_from_slice(&pulses.to_le_bytes());
    p.extend_from_slice(&(data.len() as u32).to_le_bytes());
    p.extend_from_slice(data);
    p
}

/// Packs pulses 12 bits each, four in six bytes (the inverse of `pulses12`).
fn pack12(ch: &[u16]) -> Vec<u8> {
    let mut out = Vec::new();
    for g in ch.chunks(4) {
        let c = |i: usize| usize::from(*g.get(i).unwrap_or(&0));
        let mut b = [0u8; 6];
        b[0] = (((c(0) & 0xF) << 4) | (c(1) >> 8)) as u8;
        b[1] = (c(0) >> 4) as u8;
        b[3] = (c(1) & 0xFF) as u8;
        b[2] = (c(2) >> 4) as u8;
        b[5] = (((c(2) & 0xF) << 4) | (c(3) >> 8)) as u8;
        b[4] = (c(3) & 0xFF) as u8;
        out.extend_from_slice(&b[..[0, 2, 4, 6, 6][g.len()]]);
    }
    out
}

/// A 3 × 2 map of 16 channels: (0,0) 16-bit pulses, (1,0) 12-bit pulses, (0,1) an
/// instructively packed spectrum with extra pulses; the rest not mapped. Returns the
/// packed bytes and the expected counts `[y][x][channel]`.
fn packed_map() -> (Vec<u8>, Vec<f32>) {
    let (w, h, c) = (3usize, 2usize, 16usize);
    let mut expect = vec![0f32; w * h * c];
    let mut out = vec![0u8; 0x1A0];
    out[0..4].copy_from_slice(&(h as u32).to_le_bytes());
    out[4..8].copy_from_slice(&(w as u32).to_le_bytes());
    // Line 0: two pixels.
    out.extend_from_slice(&2u32.to_le_bytes());
    let p16: [u16; 4] = [3, 3, 7, 15];
    let d: Vec<u8> = p16.iter().flat_map(|v| v.to_le_bytes()).collect();
    out.extend(pixel(0, 0, 4, &d));
    for ch in p16 {
        expect[usize::from(ch)] += 1.0;
    }
    let p12: [u16; 5] = [1, 2, 3, 4, 4];
    out.extend(pixel(1, 1, 5, &pack12(&p12)));
    for ch in p12 {
        expect[c + usize::from(ch)] += 1.0;
    }
    // Line 1: one pixel at x = 0, instructively packed.
    out.extend_from_slice(&1u32.to_le_bytes());
    let mut d = Vec::new();
    d.extend_from_slice(&[0, 2]); // channels 0, 1 empty
    d.extend_from_slice(&[1, 3, 5, 0x21, 0x03]); // nibbles 1, 2, 3 plus gain 5: ch 2..=4
    d.extend_from_slice(&[2, 2, 10, 0, 1, 2]); // gain 10 (u16), bytes 1, 2: ch 5, 6
    d.extend_from_slice(&[4, 1, 0, 0, 0, 1, 0x10, 0x27]); // gain 2^24 (u32), 10000: ch 7
    let extra: [u16; 2] = [9, 9];
    d.extend_from_slice(&4u32.to_le_bytes()); // size of the extra pulses
    let mut px = pixel(0, 3, 2, &d);
    px.extend(extra.iter().flat_map(|v| v.to_le_bytes()));
    out.extend(px);
    let row = w * c;
    for (ch, v) in [(2, 6.0), (3, 7.0), (4, 8.0), (5, 11.0), (6, 12.0), (9, 2.0)] {
        expect[row + ch] += v;
    }
    expect[row + 7] += (16_777_216.0f64 + 10_000.0) as f32;
    (out, expect)
}

fn sample(chunk: usize, compress: bool) -> (Vec<u8>, Vec<f32>) {
    let (map, expect) = packed_map();
    let sum: Vec<u64> = (0..16)
        .map(|ch| expect.chunks(16).map(|px| px[ch] as u64).sum())
        .collect();
    let xml = cp1252(&header_xml(3, 2, 16, &sum));
    let files = if compress {
        vec![
            ("HeaderData", aacs(&xml, 700)),
            ("SpectrumData0", aacs(&map, 100)),
        ]
    } else {
        vec![("HeaderData", xml), ("SpectrumData0", map)]
    };
    (sfs(&files, chunk), expect)
}

fn read_bytes(bytes: &[u8]) -> Result<Acquisition, FormatError> {
    crate::read("x.bcf", bytes, &NoCompanions, &ReadLimits::default())
}

#[test]
fn a_synthetic_file_reads_with_images_map_and_calibration() {
    for (chunk, compress) in [(4096, false), (544, false), (544, true), (1000, true)] {
        let (bytes, expect) = sample(chunk, compress);
        let a = read_bytes(&bytes).unwrap_or_else(|e| panic!("{chunk} {compress}: {e}"));
        let names: Vec<&str> = a.signals.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["BSE", "EDS", "EDS sum"]);
        let bse = &a.signals[0];
        assert_eq!(bse.kind, SignalKind::Image);
        assert_eq!(bse.dtype, DType::U16);
        assert_eq!(bse.shape(), [2, 3]);
        assert_eq!(bse.data, [0.0, 100.0, 200.0, 300.0, 400.0, 500.0]);
        assert_eq!((bse.axes[0].scale, bse.axes[1].scale), (0.5, 0.25));
        assert_eq!(bse.axes[1].unit, "µm");
        let eds = &a.signals[1];
        assert_eq!(eds.kind, SignalKind::SpectrumImage);
        assert_eq!(eds.shape(), [2, 3, 16]);
        assert_eq!(eds.dtype, DType::U32);
        assert_eq!(eds.data, expect);
        let e = &eds.axes[2];
        assert_eq!((e.scale, e.offset, e.unit.as_str()), (0.01, -0.47, "keV"));
        assert_eq!(eds.metadata["mapped_region"], "x 0..=1, y 0..=1");
        assert_eq!(eds.metadata["detector"], "XFlash µ");
        let sum = &a.signals[2];
        assert_eq!(sum.shape(), [16]);
        assert_eq!(sum.data[3], 10.0); // 2 + 1 pulses and 7 packed
        assert_eq!(a.metadata.voltage_kv, Some(20.0));
        assert_eq!(a.metadata.magnification, Some(1500.0));
        assert_eq!(a.metadata.acquired.as_deref(), Some("2016-08-09T14:08:10"));
        assert_eq!(a.metadata.extra["working_distance_mm"], "8.5");
        assert_eq!(a.metadata.extra["elements"], "Si KA (1.7398 keV)");
        assert!(
            a.notes.iter().any(|n| n.contains("SE hold only zeros")),
            "{:?}",
            a.notes
        );
        assert!(a.notes.iter().any(|n| n.contains("only part of the frame")));
        assert!(a.notes.iter().any(|n| n.contains("'PixelTimes' not read")));
    }
}

#[test]
fn every_truncation_and_byte_flip_is_refused_or_read_without_panic() {
    let (bytes, _) = sample(544, true);
    for cut in (0..bytes.len()).step_by(97) {
        let _ = read_bytes(&bytes[..cut]);
    }
    assert!(matches!(
        read_bytes(&bytes[..bytes.len() / 2]),
        Err(FormatError::Truncated { .. })
    ));
    let mut state = 0x2545_F491u32;
    for _ in 0..3000 {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let mut b = bytes.clone();
        let at = state as usize % b.len();
        b[at] ^= (state >> 24) as u8 | 1;
        let _ = read_bytes(&b);
    }
}

#[test]
fn a_chunk_chain_that_loops_is_corrupt() {
    // Chunk size 544 holds one table entry per chunk: the table is a chain of 3 chunks
    // (1 -> 2 -> 3). Point chunk 2 back at chunk 1.
    let (mut bytes, _) = sample(544, false);
    let at = 0x118 + 2 * 544;
    bytes[at..at + 4].copy_from_slice(&1u32.to_le_bytes());
    let err = read_bytes(&bytes).unwrap_err();
    assert!(err.to_string().contains("loops back"), "{err}");
}

#[test]
fn implausible_sizes_are_refused_before_allocating() {
    // A map that claims 100000 × 100000 pixels.
    let (map, _) = packed_map();
    let mut big = map.clone();
    big[0..4].copy_from_slice(&100_000u32.to_le_bytes());
    big[4..8].copy_from_slice(&100_000u32.to_le_bytes());
    let xml = cp1252(&header_xml(3, 2, 16, &[1]));
    let bytes = sfs(&[("HeaderData", xml.clone()), ("SpectrumData0", big)], 4096);
    assert!(matches!(
        read_bytes(&bytes),
        Err(FormatError::TooLarge { .. })
    ));
    // A map within the limits whose lines the file cannot hold.
    let mut tall = map.clone();
    tall[0..4].copy_from_slice(&1_000_000u32.to_le_bytes());
    let bytes = sfs(
        &[("HeaderData", xml.clone()), ("SpectrumData0", tall)],
        4096,
    );
    let err = read_bytes(&bytes).unwrap_err();
    assert!(err.to_string().contains("lines need"), "{err}");
    // An image that claims 10^6 × 10^6 pixels.
    let text = String::from_utf8_lossy(&xml)
        .replace("<Width>3</Width>", "<Width>1000000</Width>")
        .replace("<Height>2</Height>", "<Height>1000000</Height>");
    let bytes = sfs(
        &[
            ("HeaderData", cp1252(&text)),
            ("SpectrumData0", map.clone()),
        ],
        4096,
    );
    assert!(matches!(
        read_bytes(&bytes),
        Err(FormatError::TooLarge { .. })
    ));
    // A file table entry that claims more bytes than the container holds.
    let mut bytes = sfs(
        &[("HeaderData", xml.clone()), ("SpectrumData0", map.clone())],
        4096,
    );
    let entry = 0x118 + 4096 + 32 + 512;
    bytes[entry + 4..entry + 12].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        read_bytes(&bytes),
        Err(FormatError::Corrupt { .. })
    ));
    // A compressed file whose blocks claim 4 GiB × 1000.
    let mut z = aacs(&xml, 700);
    z[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    z[12..16].copy_from_slice(&1000u32.to_le_bytes());
    let bytes = sfs(&[("HeaderData", z), ("SpectrumData0", map)], 4096);
    assert!(matches!(
        read_bytes(&bytes),
        Err(FormatError::TooLarge { .. })
    ));
}

#[test]
fn damaged_contents_are_corrupt() {
    let (map, _) = packed_map();
    let xml = header_xml(3, 2, 16, &[1]);
    type Files = Vec<(&'static str, Vec<u8>)>;
    let cases: Vec<(Files, &str)> = vec![
        (vec![("SpectrumData0", map.clone())], "HeaderData"),
        (
            vec![
                ("HeaderData", b"<a><b></a>".to_vec()),
                ("SpectrumData0", map.clone()),
            ],
            "does not parse",
        ),
        (
            vec![
                ("HeaderData", cp1252(&xml.replacen("<Data>", "<Data>*", 1))),
                ("SpectrumData0", map.clone()),
            ],
            "base64",
        ),
        (
            vec![
                (
                    "HeaderData",
                    cp1252(&xml.replace("<CalibLin>1E-2</CalibLin>", "")),
                ),
                ("SpectrumData0", map.clone()),
            ],
            "energy calibration",
        ),
    ];
    for (files, says) in cases {
        let err = read_bytes(&sfs(&files, 4096)).unwrap_err();
        assert!(err.to_string().contains(says), "{says}: {err}");
    }
    // EBSD data alone is refused as such.
    let ebsd = sfs_in("EBSDData", &[("SEMImage", vec![1, 2, 3])], 4096);
    let err = read_bytes(&ebsd).unwrap_err();
    assert!(matches!(err, FormatError::Unsupported { .. }), "{err}");
    // A pixel past the width; a packed spectrum with an unknown value size.
    let mut bad_x = map.clone();
    bad_x[0x1A4..0x1A8].copy_from_slice(&7u32.to_le_bytes());
    let mut bad_size = map;
    let instructed = bad_size.len() - 4 - 4 - 8 - 6 - 5 - 2;
    bad_size[instructed] = 3;
    for (m, says) in [(bad_x, "past the width"), (bad_size, "value size 3")] {
        let files = [("HeaderData", cp1252(&xml)), ("SpectrumData0", m)];
        let err = read_bytes(&sfs(&files, 4096)).unwrap_err();
        assert!(err.to_string().contains(says), "{says}: {err}");
    }
}

#[test]
fn a_file_spread_over_chained_pointer_tables_reads() {
    // 512-byte payloads hold 128 pointers, so a header over 64 KiB needs two table chunks.
    let (map, expect) = packed_map();
    let mut xml = header_xml(3, 2, 16, &[1]);
    xml = xml.replace(
        "<RTHeader/>",
        &format!("<RTHeader>{}</RTHeader>", "x".repeat(70_000)),
    );
    let bytes = sfs(&[("HeaderData", cp1252(&xml)), ("SpectrumData0", map)], 544);
    let a = read_bytes(&bytes).unwrap();
    assert_eq!(a.signals[1].data, expect);
}

#[test]
fn large_image_planes_are_cut_out_before_parsing_and_checked() {
    // 64 × 48 u16: 6 KiB, 8 Ki of base64, cut out of the XML before it is parsed.
    let (w, h) = (64, 48);
    let xml = header_xml(w, h, 16, &[1]);
    let mut map = packed_map().0;
    map[0..4].copy_from_slice(&(h as u32).to_le_bytes());
    map[4..8].copy_from_slice(&(w as u32).to_le_bytes());
    map.extend(vec![0u8; 4 * (h - 2)]); // lines 2.. hold no pixels
    let file = |xml: &str| {
        sfs(
            &[("HeaderData", cp1252(xml)), ("SpectrumData0", map.clone())],
            4096,
        )
    };
    let a = read_bytes(&file(&xml)).unwrap();
    let bse = &a.signals[0];
    assert_eq!(bse.shape(), [h, w]);
    let expect: Vec<f32> = (0..w * h)
        .map(|i| f32::from((i as u16).wrapping_mul(100)))
        .collect();
    assert_eq!(bse.data, expect);
    // A byte outside the alphabet deep inside the plane.
    let at = xml.find("<Data>").unwrap() + 5000;
    let mut bad = xml.clone();
    bad.replace_range(at..at + 1, "*");
    let err = read_bytes(&file(&bad)).unwrap_err();
    assert!(err.to_string().contains("not valid base64"), "{err}");
    // A plane shorter than its width × height.
    let end = xml[at..].find("</Data>").unwrap() + at;
    let mut short = xml.clone();
    short.replace_range(end - 400..end, "");
    let err = read_bytes(&file(&short)).unwrap_err();
    assert!(matches!(err, FormatError::Truncated { .. }), "{err}");
}

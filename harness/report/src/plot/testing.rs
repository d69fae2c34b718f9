//! Helpers for the figure tests: reading a written PNG back, and the checks every written figure
//! must pass whatever its kind.

use std::path::{Path, PathBuf};

use super::render::with_extension;

/// Width, height and RGB pixels of a PNG file.
pub(super) fn decode_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    pixels.truncate(info.buffer_size());
    (info.width, info.height, pixels)
}

/// Checks both files of a figure and returns the SVG text.
pub(super) fn check_files(paths: &[PathBuf; 2], stem: &Path, size: Option<(u32, u32)>) -> String {
    assert_eq!(paths[0], with_extension(stem, "png"));
    assert_eq!(paths[1], with_extension(stem, "svg"));
    let (width, height, pixels) = decode_png(&paths[0]);
    if let Some(size) = size {
        assert_eq!((width, height), size);
    }
    assert!(
        pixels.chunks(3).any(|p| p != &pixels[..3]),
        "{} is one colour",
        paths[0].display()
    );
    let svg = std::fs::read_to_string(&paths[1]).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    svg
}

//! PNG text chunks (tEXt, zTXt, iTXt): e.g. Stable Diffusion's `parameters`, ComfyUI's
//! `prompt`. A chunk walker that seeks over image data, so text after IDAT is found too and
//! pixels are never decoded. Compressed text is inflated up to [`MAX_TEXT`] bytes, so a
//! zip bomb in a zTXt chunk costs at most that.

use std::io::{BufReader, Read, SeekFrom};

use trove_core::meta::Meta;

/// Most bytes one text value may inflate to.
const MAX_TEXT: u64 = 256 * 1024;
/// Most bytes of a (compressed) text chunk read.
const MAX_CHUNK: u32 = 1 << 20;
/// Most chunks walked.
const MAX_CHUNKS: usize = 100_000;

pub(crate) fn text_chunks(f: &mut dyn crate::Source, m: &mut Meta) -> Result<(), String> {
    f.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let mut r = BufReader::new(f);
    let mut sig = [0u8; 8];
    r.read_exact(&mut sig).map_err(|_| "truncated signature".to_string())?;
    if sig != *b"\x89PNG\r\n\x1a\n" {
        return Err("not a PNG signature".into());
    }
    for _ in 0..MAX_CHUNKS {
        let mut hdr = [0u8; 8];
        if r.read_exact(&mut hdr).is_err() {
            return Ok(()); // truncated after the last whole chunk: keep what was read
        }
        let len = u32::from_be_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
        let kind = &hdr[4..8];
        match kind {
            b"IEND" => return Ok(()),
            b"tEXt" | b"zTXt" | b"iTXt" if len <= MAX_CHUNK => {
                let mut data = vec![0u8; len as usize];
                r.read_exact(&mut data).map_err(|_| "truncated text chunk".to_string())?;
                r.seek_relative(4).map_err(|e| e.to_string())?; // CRC
                if let Some((k, v)) = decode(kind, &data) {
                    m.push(&format!("png.{}", k.to_lowercase()), &v);
                }
            }
            _ => r.seek_relative(i64::from(len) + 4).map_err(|e| e.to_string())?,
        }
    }
    Ok(())
}

fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| c as char).collect()
}

fn inflate(b: &[u8]) -> Option<String> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(b).take(MAX_TEXT).read_to_end(&mut out).ok()?;
    Some(String::from_utf8_lossy(&out).into_owned())
}

fn decode(kind: &[u8], data: &[u8]) -> Option<(String, String)> {
    let nul = data.iter().position(|&c| c == 0)?;
    let key = latin1(&data[..nul]);
    let rest = &data[nul + 1..];
    let value = match kind {
        b"tEXt" => latin1(rest),
        b"zTXt" => inflate(rest.get(1..)?)?,
        _ => {
            // iTXt: compression flag, method, language\0, translated keyword\0, text
            let (flag, rest) = (*rest.first()?, rest.get(2..)?);
            let l = rest.iter().position(|&c| c == 0)?;
            let rest = &rest[l + 1..];
            let t = rest.iter().position(|&c| c == 0)?;
            let text = &rest[t + 1..];
            if flag == 1 { inflate(text)? } else { String::from_utf8_lossy(text).into_owned() }
        }
    };
    Some((key, value))
}

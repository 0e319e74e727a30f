//! EXIF from a bounded buffer (kamadak-exif): camera, lens, date taken, GPS, ISO, and the
//! orientation, which swaps the displayed width and height for 5–8.

use exif::{In, Tag, Value};
use trove_core::meta::Meta;

pub(crate) fn read(buf: &[u8], m: &mut Meta) {
    let ex = match exif::Reader::new().read_from_container(&mut std::io::Cursor::new(buf)) {
        Ok(e) => e,
        // No EXIF at all is normal, not an error.
        Err(exif::Error::NotFound(_)) => return,
        Err(e) => {
            m.errors.push(format!("exif: {e}"));
            return;
        }
    };
    let text = |t: Tag| -> Option<String> {
        let f = ex.get_field(t, In::PRIMARY)?;
        match &f.value {
            Value::Ascii(v) => v.first().map(|s| String::from_utf8_lossy(s).trim_matches(['\0', ' ']).to_string()),
            _ => Some(f.display_value().to_string()),
        }
        .filter(|s| !s.is_empty())
    };
    let make = text(Tag::Make);
    let model = text(Tag::Model);
    if let Some(v) = &make {
        m.push("make", v);
    }
    if let Some(v) = &model {
        m.push("model", v);
    }
    // "Canon" + "Canon EOS 5D" is one camera, not "Canon Canon EOS 5D".
    let camera = match (&make, &model) {
        (Some(mk), Some(md))
            if md.to_lowercase().starts_with(&mk.to_lowercase().split(' ').next().unwrap_or("").to_string()) =>
        {
            Some(md.clone())
        }
        (Some(mk), Some(md)) => Some(format!("{mk} {md}")),
        (None, Some(md)) => Some(md.clone()),
        (Some(mk), None) => Some(mk.clone()),
        _ => None,
    };
    if let Some(c) = camera {
        m.push("camera", &c);
    }
    if let Some(v) = text(Tag::LensModel) {
        m.push("lens", &v);
    }
    if let Some(f) = ex.get_field(Tag::PhotographicSensitivity, In::PRIMARY)
        && let Some(iso) = f.value.get_uint(0)
    {
        m.push("iso", &iso.to_string());
    }
    if let Some(f) =
        ex.get_field(Tag::DateTimeOriginal, In::PRIMARY).or_else(|| ex.get_field(Tag::DateTime, In::PRIMARY))
        && let Value::Ascii(v) = &f.value
        && let Some(s) = v.first()
        && let Ok(mut dt) = exif::DateTime::from_ascii(s)
    {
        if let Some(o) = ex.get_field(Tag::OffsetTimeOriginal, In::PRIMARY)
            && let Value::Ascii(ov) = &o.value
            && let Some(os) = ov.first()
        {
            let _ = dt.parse_offset(os);
        }
        if let Some(t) = unix(&dt) {
            m.taken = Some(t);
            m.push(
                "taken",
                &format!(
                    "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                    dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second
                ),
            );
        }
    }
    if let (Some(lat), Some(lon)) =
        (gps(&ex, Tag::GPSLatitude, Tag::GPSLatitudeRef, b'S'), gps(&ex, Tag::GPSLongitude, Tag::GPSLongitudeRef, b'W'))
    {
        m.push("gps", &format!("{lat:.6},{lon:.6}"));
    }
    if let Some(o) = ex.get_field(Tag::Orientation, In::PRIMARY).and_then(|f| f.value.get_uint(0)) {
        m.push("orientation", &o.to_string());
        if (5..=8).contains(&o) {
            std::mem::swap(&mut m.width, &mut m.height);
        }
    }
}

fn gps(ex: &exif::Exif, t: Tag, r: Tag, neg: u8) -> Option<f64> {
    let f = ex.get_field(t, In::PRIMARY)?;
    let Value::Rational(v) = &f.value else { return None };
    if v.len() < 3 || v.iter().any(|x| x.denom == 0) {
        return None;
    }
    let deg = v[0].to_f64() + v[1].to_f64() / 60.0 + v[2].to_f64() / 3600.0;
    let sign = match ex.get_field(r, In::PRIMARY).map(|f| &f.value) {
        Some(Value::Ascii(a)) if a.first().and_then(|s| s.first()) == Some(&neg) => -1.0,
        _ => 1.0,
    };
    Some(sign * deg)
}

/// Seconds since the epoch (the offset applied when known, else the time is read as UTC).
fn unix(dt: &exif::DateTime) -> Option<i64> {
    if !(1..=12).contains(&dt.month) || !(1..=31).contains(&dt.day) || dt.hour > 23 || dt.minute > 59 || dt.second > 60
    {
        return None;
    }
    let days = trove_core::time::days_from_civil(i64::from(dt.year), i64::from(dt.month), i64::from(dt.day));
    let secs = days * 86400 + i64::from(dt.hour) * 3600 + i64::from(dt.minute) * 60 + i64::from(dt.second);
    Some(secs - i64::from(dt.offset.unwrap_or(0)) * 60)
}

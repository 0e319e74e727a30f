-- 0002: only plain decimals (`-?[0-9]+(\.[0-9]+)?`) are numbers in namespace comparisons.
-- Version 1 stored any value Rust's float parser took (`1e5`, `+5`, `.5`, `5.`) as a number;
-- those values are text now, so a comparison treats them like every other word. Among values
-- that had a number, the non-decimals are those with a character other than digits, '.' and
-- '-' (an exponent, a '+'), or a '.' with no digit on one side.
UPDATE tag_names SET num = NULL
WHERE num IS NOT NULL
  AND (val GLOB '*[^0-9.-]*' OR val GLOB '.*' OR val GLOB '-.*' OR val GLOB '*.');

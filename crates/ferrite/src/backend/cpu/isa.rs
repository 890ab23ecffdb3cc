//! Which instruction set the CPU kernels use, chosen once per process.
//!
//! Ferrite's hand-written kernels need AVX-512 (the packed f32 matrix product of
//! [`super::sgemm`], the direct convolution of [`super::conv_direct`], the 2×2 max pool) or
//! the AMX tile unit (the bf16×3 matrix product of [`super::amx`]); every operation also has
//! a portable path (the `gemm` crate, im2col convolution, scalar pooling). By default the
//! best level the processor (and, for AMX, the operating system) offers is used.
//!
//! The environment variable `FERRITE_ISA` lowers it, to compare paths or to test the
//! portable ones on a machine that has the fast ones:
//!
//! | `FERRITE_ISA` | kernels                                                              |
//! |---------------|----------------------------------------------------------------------|
//! | `generic`     | portable paths only: no hand-written SIMD kernel runs                |
//! | `avx2`        | the same as `generic` today (no kernel of Ferrite's needs AVX2 alone; the `gemm` crate picks its own instructions) |
//! | `avx512`      | the AVX-512 kernels, but not the AMX tile products                   |
//! | `amx`         | everything, the AMX products included (the default where available) |
//!
//! The value is read once, at the first kernel call, case-insensitively. Asking for more
//! than the machine has gives the best it has, with one warning on stderr; so does an
//! unknown value. `FERRITE_AMX=0`, the older switch, still works: it caps the level at
//! `avx512`. The level only selects among paths that compute the same function; results
//! agree to rounding (the AMX products are accurate to f32, see [`super::amx`]).

use std::fmt;
use std::sync::OnceLock;

/// A level of instruction-set support for the CPU kernels, lowest first: each level allows
/// the kernels of every level below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Isa {
    /// Portable Rust (and the `gemm` crate) only.
    Generic,
    /// AVX2 with FMA; no kernel of Ferrite's own needs it, so this runs the portable paths.
    Avx2,
    /// The AVX-512 kernels: packed f32 matrix product, direct convolution, 2×2 max pool.
    Avx512,
    /// The AVX-512 kernels and the AMX tile products.
    Amx,
}

impl Isa {
    /// The spelling `FERRITE_ISA` uses.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Isa::Generic => "generic",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Amx => "amx",
        }
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What this machine can run, as detected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Capabilities {
    /// AVX2 and FMA.
    pub(crate) avx2: bool,
    /// AVX-512F (the AVX-512 kernels need nothing more).
    pub(crate) avx512: bool,
    /// AVX-512F and BW, AMX-TILE and AMX-BF16 (the tile products pack with AVX-512BW).
    /// Whether the operating system grants the tile state is asked only when AMX is chosen.
    pub(crate) amx: bool,
}

impl Capabilities {
    /// The best level these capabilities allow.
    pub(crate) fn best(self) -> Isa {
        if self.amx {
            Isa::Amx
        } else if self.avx512 {
            Isa::Avx512
        } else if self.avx2 {
            Isa::Avx2
        } else {
            Isa::Generic
        }
    }
}

/// The processor's capabilities (CPUID; no system call).
#[cfg(target_arch = "x86_64")]
fn detect() -> Capabilities {
    let avx512 = is_x86_feature_detected!("avx512f");
    // CPUID leaf 7 exists on every processor that reports AVX-512F (checked first).
    // EDX bit 22 is AMX-BF16, bit 24 AMX-TILE.
    let amx_bits = avx512 && {
        let edx = std::arch::x86_64::__cpuid_count(7, 0).edx;
        edx & (1 << 22) != 0 && edx & (1 << 24) != 0
    };
    Capabilities {
        avx2: is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
        avx512,
        amx: amx_bits && is_x86_feature_detected!("avx512bw"),
    }
}

/// The processor's capabilities: none of the x86 kernels exist on other architectures.
#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Capabilities {
    Capabilities {
        avx2: false,
        avx512: false,
        amx: false,
    }
}

/// The level to use, from the values of `FERRITE_ISA` and `FERRITE_AMX` (None: unset) and
/// the detected capabilities, with the warning to print when the request cannot be met as
/// asked. Pure, so that tests can try every combination.
pub(crate) fn choose(
    requested: Option<&str>,
    amx_switch: Option<&str>,
    caps: Capabilities,
) -> (Isa, Option<String>) {
    let best = caps.best();
    let mut warning = None;
    let mut level = match requested.map(|v| v.trim().to_ascii_lowercase()) {
        None => best,
        Some(v) if v.is_empty() => best,
        Some(v) => match v.as_str() {
            "generic" => Isa::Generic,
            "avx2" => Isa::Avx2,
            "avx512" => Isa::Avx512,
            "amx" => Isa::Amx,
            _ => {
                warning = Some(format!(
                    "ferrite: unknown FERRITE_ISA value {v:?} (expected generic, avx2, avx512 or \
                     amx); using {best}"
                ));
                best
            }
        },
    };
    if level > best {
        warning = Some(format!(
            "ferrite: FERRITE_ISA={level} is not supported by this processor; using {best}"
        ));
        level = best;
    }
    // The older switch: FERRITE_AMX=0 turns the tile products off, whatever else is asked.
    if amx_switch.is_some_and(|v| v.trim() == "0") {
        level = level.min(Isa::Avx512);
    }
    (level, warning)
}

/// The instruction-set level every CPU kernel dispatches on: the best the machine offers,
/// lowered by `FERRITE_ISA` / `FERRITE_AMX` (read once, at the first call; see the module
/// docs). A level at or above [`Isa::Avx512`] guarantees the processor has AVX-512F, and
/// [`Isa::Amx`] that it has AVX-512BW and AMX-BF16 and that this process was granted the
/// tile state: the kernels' safety rests on that.
pub(crate) fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| {
        let requested = std::env::var("FERRITE_ISA").ok();
        let amx_switch = std::env::var("FERRITE_AMX").ok();
        let (level, warning) = choose(requested.as_deref(), amx_switch.as_deref(), detect());
        if let Some(warning) = warning {
            eprintln!("{warning}");
        }
        if level == Isa::Amx && !amx_granted() {
            // The processor has the unit but the operating system does not hand out its
            // state (an old kernel): the first tile instruction would fault.
            if requested.is_some_and(|v| v.trim().eq_ignore_ascii_case("amx")) {
                eprintln!(
                    "ferrite: the operating system does not grant the AMX tile state; using avx512"
                );
            }
            return Isa::Avx512;
        }
        level
    })
}

/// Asks the operating system for the AMX tile state (once, from [`isa`]).
#[cfg(target_arch = "x86_64")]
fn amx_granted() -> bool {
    super::amx::request_tile_state()
}

#[cfg(not(target_arch = "x86_64"))]
fn amx_granted() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Capabilities = Capabilities {
        avx2: true,
        avx512: true,
        amx: true,
    };
    const AVX512: Capabilities = Capabilities { amx: false, ..ALL };
    const AVX2: Capabilities = Capabilities {
        avx512: false,
        ..AVX512
    };
    const NONE: Capabilities = Capabilities {
        avx2: false,
        ..AVX2
    };

    #[test]
    fn unset_or_empty_gives_the_best_level_without_a_warning() {
        for (caps, best) in [
            (ALL, Isa::Amx),
            (AVX512, Isa::Avx512),
            (AVX2, Isa::Avx2),
            (NONE, Isa::Generic),
        ] {
            assert_eq!(choose(None, None, caps), (best, None));
            assert_eq!(choose(Some(""), None, caps), (best, None));
            assert_eq!(choose(Some("  "), None, caps), (best, None));
        }
    }

    #[test]
    fn each_value_selects_its_level_case_insensitively() {
        for (value, level) in [
            ("generic", Isa::Generic),
            ("AVX2", Isa::Avx2),
            (" avx512 ", Isa::Avx512),
            ("Amx", Isa::Amx),
        ] {
            assert_eq!(choose(Some(value), None, ALL), (level, None), "{value}");
            assert_eq!(level.name(), value.trim().to_ascii_lowercase());
        }
    }

    #[test]
    fn a_level_the_machine_lacks_gives_the_best_one_with_a_warning() {
        let (level, warning) = choose(Some("amx"), None, AVX512);
        assert_eq!(level, Isa::Avx512);
        assert!(warning.is_some_and(|w| w.contains("amx") && w.contains("avx512")));
        let (level, warning) = choose(Some("avx512"), None, NONE);
        assert_eq!(level, Isa::Generic);
        assert!(warning.is_some());
        // Lower than the best is always granted, silently.
        assert_eq!(choose(Some("generic"), None, AVX512), (Isa::Generic, None));
    }

    #[test]
    fn an_unknown_value_gives_the_best_level_with_a_warning() {
        let (level, warning) = choose(Some("sse9"), None, AVX512);
        assert_eq!(level, Isa::Avx512);
        assert!(warning.is_some_and(|w| w.contains("sse9")));
    }

    #[test]
    fn ferrite_amx_0_caps_the_level_at_avx512() {
        assert_eq!(choose(None, Some("0"), ALL), (Isa::Avx512, None));
        assert_eq!(choose(Some("amx"), Some("0"), ALL).0, Isa::Avx512);
        assert_eq!(choose(Some("generic"), Some("0"), ALL).0, Isa::Generic);
        assert_eq!(choose(None, Some("0"), AVX2).0, Isa::Avx2);
        // Any other value leaves AMX on.
        assert_eq!(choose(None, Some("1"), ALL).0, Isa::Amx);
    }

    /// Also the line CI prints (with `--nocapture`) to say which kernels a run used.
    #[test]
    fn the_chosen_level_never_exceeds_the_machine() {
        let level = isa();
        let caps = detect();
        eprintln!(
            "ferrite: CPU kernels use FERRITE_ISA={level} (this machine's best: {})",
            caps.best()
        );
        assert!(level <= caps.best(), "{level} on {caps:?}");
        // Every level orders as the kernels need: amx implies avx512.
        assert!(Isa::Generic < Isa::Avx2 && Isa::Avx2 < Isa::Avx512 && Isa::Avx512 < Isa::Amx);
    }
}

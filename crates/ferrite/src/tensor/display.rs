//! Printing tensors the way PyTorch does: `tensor([[1.0000, 2.0000], ...])`.

use super::Tensor;
use std::fmt;

/// How every element of one tensor is written (PyTorch picks one style per tensor).
enum Style {
    /// All values are whole numbers: `1.`, `-3.`
    Integer,
    /// Four decimals: `0.5000`
    Fixed,
    /// Scientific with four decimals: `1.0000e+05`
    Scientific,
}

fn pick_style(values: &[f32]) -> Style {
    let finite: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.iter().all(|v| v.fract() == 0.0) {
        // PyTorch switches whole numbers to scientific when they are huge.
        let max = finite.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        return if max > 1e8 {
            Style::Scientific
        } else {
            Style::Integer
        };
    }
    let nonzero: Vec<f32> = finite
        .iter()
        .map(|v| v.abs())
        .filter(|&v| v != 0.0)
        .collect();
    if nonzero.is_empty() {
        return Style::Fixed;
    }
    let max = nonzero.iter().copied().fold(f32::MIN, f32::max);
    let min = nonzero.iter().copied().fold(f32::MAX, f32::min);
    if max / min > 1000.0 || max > 1e8 || min < 1e-4 {
        Style::Scientific
    } else {
        Style::Fixed
    }
}

fn format_value(v: f32, style: &Style) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    match style {
        Style::Integer => format!("{v:.0}."),
        Style::Fixed => format!("{v:.4}"),
        Style::Scientific => {
            let s = format!("{v:.4e}");
            let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
            let e: i32 = exp.parse().unwrap_or(0);
            format!("{mantissa}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
        }
    }
}

const SUMMARIZE_ABOVE: usize = 1000;
const EDGE_ITEMS: usize = 3;

fn write_level(
    out: &mut String,
    cells: &[String],
    dims: &[usize],
    width: usize,
    indent: usize,
    summarize: bool,
) {
    if dims.is_empty() {
        out.push_str(&format!("{:>width$}", cells[0]));
        return;
    }
    let n = dims[0];
    let block = cells.len() / n.max(1);
    let shown: Vec<Option<usize>> = if summarize && n > 2 * EDGE_ITEMS {
        (0..EDGE_ITEMS)
            .map(Some)
            .chain([None])
            .chain((n - EDGE_ITEMS..n).map(Some))
            .collect()
    } else {
        (0..n).map(Some).collect()
    };
    out.push('[');
    for (k, item) in shown.iter().enumerate() {
        if k > 0 {
            if dims.len() == 1 {
                out.push_str(", ");
            } else {
                out.push(',');
                out.push_str(&"\n".repeat(dims.len() - 1));
                out.push_str(&" ".repeat(indent + 1));
            }
        }
        match item {
            Some(i) => write_level(
                out,
                &cells[i * block..(i + 1) * block],
                &dims[1..],
                width,
                indent + 1,
                summarize,
            ),
            None => out.push_str("..."),
        }
    }
    out.push(']');
}

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = self.to_vec();
        let style = pick_style(&values);
        let cells: Vec<String> = values.iter().map(|&v| format_value(v, &style)).collect();
        let width = cells.iter().map(|c| c.len()).max().unwrap_or(0);
        let mut body = String::new();
        let summarize = values.len() > SUMMARIZE_ABOVE;
        write_level(
            &mut body,
            &cells,
            self.dims(),
            width,
            "tensor(".len(),
            summarize,
        );
        if self.numel() == 0 {
            body = format!("[], size={:?}", self.dims());
        }
        write!(f, "tensor({body}")?;
        if let Some(node) = self.node() {
            write!(f, ", grad_fn=<{}0>", node.op.name())?;
        } else if self.requires_grad_flag() {
            write!(f, ", requires_grad=True")?;
        }
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn prints_like_pytorch() {
        let t = Tensor::from_vec(vec![1.0, 2.5, 3.0, 4.0], [2, 2]);
        assert_eq!(
            t.to_string(),
            "tensor([[1.0000, 2.5000],\n        [3.0000, 4.0000]])"
        );
        assert_eq!(
            Tensor::from_vec(vec![1., -2.], [2]).to_string(),
            "tensor([ 1., -2.])"
        );
        assert_eq!(Tensor::scalar(0.5).to_string(), "tensor(0.5000)");
        assert_eq!(
            Tensor::from_vec(vec![1e-5, 1.0], [2]).to_string(),
            "tensor([1.0000e-05, 1.0000e+00])"
        );
        let r = Tensor::ones([2]).requires_grad();
        assert_eq!(r.to_string(), "tensor([1., 1.], requires_grad=True)");
        let big = Tensor::zeros([2000]).to_string();
        assert!(
            big.starts_with("tensor([0., 0., 0., ..., 0., 0., 0.])"),
            "{big}"
        );
    }
}

// Shared by every kernel. `T` (the float type the kernel computes in) is declared above this
// text. Binding 0 is the launch's parameter block: sizes, layouts and scalars, as u32 words
// (floats as their f32 bits).
@group(0) @binding(0) var<storage, read> params: array<u32>;

const WORKGROUP: u32 = 256u;

// The thread's position in a one-dimensional launch spread over a two-dimensional grid.
fn thread_index(group: vec3<u32>, groups: vec3<u32>, local: u32) -> u32 {
    return (group.y * groups.x + group.x) * WORKGROUP + local;
}

// The f32 scalar stored at params[i], in the kernel's type.
fn scalar(i: u32) -> T {
    return T(bitcast<f32>(params[i]));
}

// Where the `i`th element (row-major) of a strided view lives. The view is described at
// params[base]: rank, offset, then rank sizes, then rank strides.
fn strided_offset(base: u32, i: u32) -> u32 {
    let rank = params[base];
    var offset = params[base + 1u];
    var rest = i;
    for (var d = i32(rank) - 1; d >= 0; d = d - 1) {
        let size = params[base + 2u + u32(d)];
        let stride = params[base + 2u + rank + u32(d)];
        offset = offset + (rest % size) * stride;
        rest = rest / size;
    }
    return offset;
}

// How many meta words a view description takes.
fn view_words(base: u32) -> u32 {
    return 2u + 2u * params[base];
}

//! `set_default_device` sends every new tensor to the GPU, and a seed gives the same random
//! numbers there as on the CPU. (Its own test binary: the default device is process-wide.)

use ferrite::{Device, Tensor};

#[test]
fn new_tensors_follow_the_default_device_and_seeds_agree_across_devices() {
    let gpu = Device::Wgpu(0);
    ferrite::manual_seed(11);
    let cpu_normal = Tensor::randn([4, 4]).to_vec();
    let cpu_uniform = Tensor::rand([7]).to_vec();
    assert_eq!(Tensor::zeros([1]).device(), Device::Cpu);

    ferrite::set_default_device(gpu);
    assert_eq!(ferrite::default_device(), gpu);
    ferrite::manual_seed(11);
    let normal = Tensor::randn([4, 4]);
    let uniform = Tensor::rand([7]);
    assert_eq!(normal.device(), gpu);
    assert_eq!(uniform.device(), gpu);
    assert_eq!(normal.to(&Device::Cpu).to_vec(), cpu_normal);
    assert_eq!(uniform.to(&Device::Cpu).to_vec(), cpu_uniform);
    for t in [
        Tensor::from_vec(vec![1.0, 2.0], [2]),
        Tensor::from_i64(vec![1, 2], [2]),
        Tensor::from_f64(vec![1.0, 2.0], [2]),
        Tensor::from_bool(vec![true, false], [2]),
        Tensor::ones([2]),
    ] {
        assert_eq!(t.device(), gpu);
    }
    ferrite::set_default_device(Device::Cpu);
    assert_eq!(Tensor::ones([2]).device(), Device::Cpu);
}

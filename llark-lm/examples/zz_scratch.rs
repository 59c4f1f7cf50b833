use burn::backend::Flex;
use burn::tensor::{Distribution, Tensor};
use std::time::Instant;
type B = Flex;
fn time<F: FnMut()>(n: usize, mut f: F) -> f64 {
    f();
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_secs_f64() / n as f64 * 1e3
}
fn main() {
    let dev = Default::default();
    let a = Tensor::<B, 3>::random([4, 128, 256], Distribution::Normal(0.0, 1.0), &dev);
    let b = Tensor::<B, 3>::random([4, 128, 256], Distribution::Normal(0.0, 1.0), &dev);
    let col = Tensor::<B, 3>::random([4, 128, 1], Distribution::Normal(0.0, 1.0), &dev);
    let row = Tensor::<B, 3>::random([1, 1, 256], Distribution::Normal(0.0, 1.0), &dev);
    let n = 200;
    println!(
        "same shape mul: {:.3} ms",
        time(n, || {
            std::hint::black_box((a.clone() * b.clone()).into_data());
        })
    );
    println!(
        "broadcast [.,.,1] mul: {:.3} ms",
        time(n, || {
            std::hint::black_box((a.clone() * col.clone()).into_data());
        })
    );
    println!(
        "broadcast [1,1,D] mul: {:.3} ms",
        time(n, || {
            std::hint::black_box((a.clone() * row.clone()).into_data());
        })
    );
    println!(
        "col.repeat_dim(2) then mul: {:.3} ms",
        time(n, || {
            let c = col.clone().repeat_dim(2, 256);
            std::hint::black_box((a.clone() * c).into_data());
        })
    );
    println!(
        "row.repeat_dim(0,1) then mul: {:.3} ms",
        time(n, || {
            let r = row.clone().repeat_dim(1, 128).repeat_dim(0, 4);
            std::hint::black_box((a.clone() * r).into_data());
        })
    );
    println!(
        "col.expand then mul: {:.3} ms",
        time(n, || {
            let c = col.clone().expand([4, 128, 256]);
            std::hint::black_box((a.clone() * c).into_data());
        })
    );
    println!(
        "mul_scalar: {:.3} ms",
        time(n, || {
            std::hint::black_box((a.clone() * 2.0).into_data());
        })
    );
    let a2 = a.clone().reshape([512, 256]);
    let col2 = col.clone().reshape([512, 1]);
    println!(
        "2D broadcast col mul: {:.3} ms",
        time(n, || {
            std::hint::black_box((a2.clone() * col2.clone()).into_data());
        })
    );
    let row2 = row.clone().reshape([1, 256]);
    println!(
        "2D broadcast row mul: {:.3} ms",
        time(n, || {
            std::hint::black_box((a2.clone() * row2.clone()).into_data());
        })
    );
    let q = Tensor::<B, 4>::random([4, 128, 8, 32], Distribution::Normal(0.0, 1.0), &dev);
    println!(
        "swap_dims(1,2)+reshape: {:.3} ms",
        time(n, || {
            std::hint::black_box(
                q.clone()
                    .swap_dims(1, 2)
                    .reshape([4, 8 * 128, 32])
                    .into_data(),
            );
        })
    );
    println!(
        "swap_dims mul same: {:.3} ms",
        time(n, || {
            let t = q.clone().swap_dims(1, 2);
            std::hint::black_box((t.clone() * t).into_data());
        })
    );
    println!(
        "exp: {:.3} ms",
        time(n, || {
            std::hint::black_box(a.clone().exp().into_data());
        })
    );
    println!(
        "sum_dim(2): {:.3} ms",
        time(n, || {
            std::hint::black_box(a.clone().sum_dim(2).into_data());
        })
    );
    println!(
        "sum_dim(0): {:.3} ms",
        time(n, || {
            std::hint::black_box(a.clone().sum_dim(0).into_data());
        })
    );
}

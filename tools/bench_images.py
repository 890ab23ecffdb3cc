"""Image training side by side (issue #17): the `ferrite train --images` network trained on
Fashion-MNIST by PyTorch (its usual in-memory tensors) and by Ferrite (from a folder of PNG
files, decoding included), on the same machine, with the same architecture, optimizer, batch
size, epochs, validation split and test set.

  network   Conv3x3(16, same, no bias)-BN-ReLU-MaxPool2, Conv3x3(32)-BN-ReLU-MaxPool2,
            Flatten, Linear(1568, 64)-ReLU, Linear(64, 10); 28x28 grayscale inputs
            normalised with the training images' mean and deviation
  training  Adam lr 1e-3, batch 32, cross-entropy with balanced class weights, shuffled
            every epoch; 15% of the 60,000
            training images held out for validation after each epoch, the best epoch's
            weights kept; accuracy on the official 10,000 test images

Setup once, in a virtual environment outside the repository: pip install torch numpy
Run (from the repository root, after `cargo build --release -p ferrite-cli`):
  python tools/bench_images.py [--epochs 5] [--data /usr/share/datasets/fashion-mnist]
      [--png /tmp/fashion-mnist-png] [--ferrite target/release/ferrite] [--threads 2]
The PNG folders (one sub-folder per class, train/ and test/) are written once and reused.

Reported for each: training images per second over the epochs' training batches (median
over epochs; Ferrite's from its verbose-2 lines, which include the time its loader worker
spends decoding), the whole run's wall time (data loading, Ferrite's first decode of every
file, validation, testing), and the test accuracy. One JSON line, then a table."""
import argparse, gzip, json, os, re, statistics, struct, subprocess, sys, time, zlib

import numpy as np

CLASSES = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
           "Sneaker", "Bag", "Ankle_boot"]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, dims = struct.unpack(">HBB", data[:4])
    assert zero == 0 and dtype == 0x08, f"{path}: not an unsigned-byte IDX file"
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def png_gray(pixels):
    """A grayscale 8-bit PNG of a 2-D uint8 array."""
    h, w = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(h))

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def write_pngs(images, labels, folder):
    """images/labels as folder/<class>/<index>.png, written under a temporary name and renamed,
    so that a folder that exists is complete."""
    if os.path.isdir(folder):
        return
    partial = folder + ".partial"
    for c in CLASSES:
        os.makedirs(os.path.join(partial, c), exist_ok=True)
    for i, (img, y) in enumerate(zip(images, labels)):
        with open(os.path.join(partial, CLASSES[y], f"{i:05d}.png"), "wb") as f:
            f.write(png_gray(img))
    os.rename(partial, folder)


def torch_run(train_x, train_y, test_x, test_y, epochs, threads, seed):
    import torch
    import torch.nn as nn
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    started = time.perf_counter()
    x = torch.from_numpy(train_x.astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(train_y.astype(np.int64))
    n = len(y)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 1))
    n_val = int(round(0.15 * n))
    val_idx, tr_idx = perm[:n_val], perm[n_val:]
    x_tr, y_tr, x_val, y_val = x[tr_idx], y[tr_idx], x[val_idx], y[val_idx]
    mean, std = x_tr.mean().item(), x_tr.std(unbiased=False).item()
    norm = lambda t: (t - mean) / std
    x_tr, x_val = norm(x_tr), norm(x_val)
    x_te = norm(torch.from_numpy(test_x.astype(np.float32) / 255.0).unsqueeze(1))
    y_te = torch.from_numpy(test_y.astype(np.int64))

    def block(i, o):
        return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2)]
    net = nn.Sequential(*block(1, 16), *block(16, 32), nn.Flatten(),
                        nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    # Ferrite's --images weighs classes by n / (K n_k) of the training split (scikit-learn's
    # "balanced"), nearly 1 on Fashion-MNIST: the same here.
    counts = torch.bincount(y_tr, minlength=10).float()
    loss_fn = nn.CrossEntropyLoss(weight=len(y_tr) / (10 * counts))

    def accuracy(xs, ys):
        net.eval()
        with torch.no_grad():
            right = sum((net(xs[i:i + 256]).argmax(1) == ys[i:i + 256]).sum().item()
                        for i in range(0, len(ys), 256))
        return right / len(ys)
    rates, best, best_state = [], -1.0, None
    for _ in range(epochs):
        net.train()
        t = time.perf_counter()
        order = torch.randperm(len(y_tr))
        for i in range(0, len(order), 32):
            idx = order[i:i + 32]
            opt.zero_grad()
            loss_fn(net(x_tr[idx]), y_tr[idx]).backward()
            opt.step()
        rates.append(len(y_tr) / (time.perf_counter() - t))
        acc = accuracy(x_val, y_val)
        if acc > best:
            best, best_state = acc, {k: v.clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best_state)
    test_accuracy = accuracy(x_te, y_te)
    return {"images_per_s": statistics.median(rates), "wall_s": time.perf_counter() - started,
            "test_accuracy": test_accuracy, "train_images": len(y_tr)}


def ferrite_run(binary, png, epochs, threads, seed):
    env = dict(os.environ, FERRITE_NUM_THREADS=str(threads))
    out = os.path.join(png, f"run-{os.getpid()}")
    cmd = [binary, "train", "--images", os.path.join(png, "train"), "--test-images",
           os.path.join(png, "test"), "--size", "28", "--channels", "1", "--epochs", str(epochs),
           "--batch-size", "32", "--lr", "1e-3", "--optimizer", "adam", "--seed", str(seed),
           "--verbose", "2", "--out", out, "--overwrite"]
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"ferrite failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    rates = [float(r) for r in re.findall(r" - (\d+) samples/s - ", done.stdout)]
    accuracy = re.search(r"test accuracy ([0-9.]+)", done.stdout)
    if len(rates) != epochs or not accuracy:
        sys.exit(f"unexpected ferrite output:\n{done.stdout}")
    return {"images_per_s": statistics.median(rates), "wall_s": wall,
            "test_accuracy": float(accuracy.group(1)), "output": done.stdout}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--png", default="/tmp/fashion-mnist-png")
    p.add_argument("--ferrite", default="target/release/ferrite")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    f = lambda name: os.path.join(a.data, name)
    train_x, train_y = read_idx(f("train-images-idx3-ubyte.gz")), read_idx(f("train-labels-idx1-ubyte.gz"))
    test_x, test_y = read_idx(f("t10k-images-idx3-ubyte.gz")), read_idx(f("t10k-labels-idx1-ubyte.gz"))
    write_pngs(train_x, train_y, os.path.join(a.png, "train"))
    write_pngs(test_x, test_y, os.path.join(a.png, "test"))
    ferrite = ferrite_run(a.ferrite, a.png, a.epochs, a.threads, a.seed)
    torch = torch_run(train_x, train_y, test_x, test_y, a.epochs, a.threads, a.seed)
    ratio = ferrite["images_per_s"] / torch["images_per_s"]
    print(json.dumps({"workload": "fashion_mnist_images_network", "epochs": a.epochs,
                      "threads": a.threads,
                      "pytorch": {k: round(v, 4) for k, v in torch.items()},
                      "ferrite": {k: round(v, 4) for k, v in ferrite.items() if k != "output"},
                      "ratio_images_per_s": round(ratio, 3),
                      "ratio_wall": round(torch["wall_s"] / ferrite["wall_s"], 3)}))
    print(f"\n{'':10} {'images/s':>10} {'wall s':>8} {'test acc':>9}")
    for name, r in (("PyTorch", torch), ("Ferrite", ferrite)):
        print(f"{name:10} {r['images_per_s']:>10.0f} {r['wall_s']:>8.1f} {r['test_accuracy']:>9.4f}")
    print(f"Ferrite / PyTorch: {ratio:.2f}x training images/s, "
          f"{torch['wall_s'] / ferrite['wall_s']:.2f}x wall time")


if __name__ == "__main__":
    main()

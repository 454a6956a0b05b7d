"""torchvision + Pillow reference for the image pipeline benchmark (scripts/bench_data.sh).

Decodes JPEG files, applies RandomResizedCrop(224), RandomHorizontalFlip, ToTensor and Normalize
with a torch DataLoader of WORKERS processes and batches of 32, and prints the median images/s
of several timed passes as JSON.
    python data_baseline.py FILE_LIST WORKERS PASSES
"""
import json
import statistics
import sys
import time

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms


class Files(Dataset):
    def __init__(self, paths):
        self.paths = paths
        self.transform = transforms.Compose([
            transforms.RandomResizedCrop(224),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ])

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        # torchvision's default_loader: open and convert to RGB.
        with open(self.paths[index], "rb") as f:
            image = Image.open(f).convert("RGB")
        return self.transform(image), 0


def main():
    paths = [line.strip() for line in open(sys.argv[1]) if line.strip()]
    workers, passes = int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(1)
    loader = DataLoader(Files(paths), batch_size=32, shuffle=True, num_workers=workers,
                        persistent_workers=workers > 0, drop_last=False)
    for _ in loader:  # warm-up pass: workers start, files enter the page cache
        pass
    rates = []
    for _ in range(passes):
        start = time.perf_counter()
        count = 0
        for images, _ in loader:
            count += images.shape[0]
        rates.append(count / (time.perf_counter() - start))
    import PIL
    print(json.dumps({"images_per_second": statistics.median(rates), "runs": rates, "workers": workers,
                      "images": len(paths), "pillow": PIL.__version__, "torch": torch.__version__}))


if __name__ == "__main__":
    main()

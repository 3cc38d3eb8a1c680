#!/usr/bin/env python3
"""Top-1 accuracy of `lookout classify` on a folder of photos.

The folder holds a labels.json mapping each image file to the labels a person
accepts for it (ImageNet label strings, as in ../shared/images). Prints one
line per image and the total, e.g.

  scripts/accuracy.py --model models/mobilenet_v2_1.0_224_quant.tflite \
      --labels models/imagenet_labels.txt --images ../shared/images

Extra arguments after `--` go to `lookout classify` (e.g. --mean/--std for
models trained with other normalisation).
"""
import argparse
import json
import pathlib
import subprocess
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--labels", required=True)
    parser.add_argument("--images", required=True, help="folder with labels.json")
    parser.add_argument("--lookout", default=str(pathlib.Path(__file__).resolve().parent.parent / "build/bin/lookout"))
    parser.add_argument("extra", nargs="*", help="arguments for lookout classify (after --)")
    args = parser.parse_args()

    folder = pathlib.Path(args.images)
    acceptable = json.loads((folder / "labels.json").read_text())
    files = sorted(acceptable)
    command = [args.lookout, "classify", "--json", "--top-k", "1", "--model", args.model,
               "--labels", args.labels, *args.extra, *[str(folder / f) for f in files]]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    correct = 0
    for line, name in zip(out.splitlines(), files):
        result = json.loads(line)
        top1 = result["top_k"][0]["label"] if result.get("top_k") else "(error)"
        ok = top1 in acceptable[name]
        correct += ok
        print(f"{'ok ' if ok else 'BAD'} {name}: {top1}")
    print(f"{pathlib.Path(args.model).name}: top-1 {correct}/{len(files)} = {100.0 * correct / len(files):.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write the sandbox's sample video: a short procedural MP4 (H.264, yuv420p, faststart).

The sandbox answers video models with this file (package data, so the sandbox needs no video
encoder at run time). It is drawn here with Pillow and encoded with PyAV (the ``av`` package,
in the ``dev`` extra); run it again only to change the sample:

    .venv/bin/python tools/make_sandbox_video.py

H.264 in MP4 is what Wiro's video models return (``video/mp4``) and what browsers play; the
frames are labelled SANDBOX so nobody mistakes them for model output.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import av
from PIL import Image, ImageDraw, ImageFont

OUT = Path(__file__).resolve().parent.parent / "wiro_widgets/sandbox/media/sandbox-video.mp4"
WIDTH, HEIGHT, FPS, SECONDS = 320, 180, 12, 2


def frame(index: int, total: int, font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
          small: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> Image.Image:
    t = index / total
    image = Image.new("RGB", (WIDTH, HEIGHT))
    draw = ImageDraw.Draw(image)
    for y in range(0, HEIGHT, 6):  # a slow vertical gradient that shifts with time
        shade = int(60 + 50 * math.sin(2 * math.pi * (y / HEIGHT + t)))
        draw.rectangle((0, y, WIDTH, y + 6), fill=(20, shade, 90 + shade // 2))
    x = int((WIDTH - 60) * (0.5 + 0.5 * math.sin(2 * math.pi * t)))
    draw.ellipse((x, 70, x + 60, 130), fill=(250, 200, 60))
    draw.rectangle((WIDTH - 118, 8, WIDTH - 8, 34), fill=(200, 16, 40))
    draw.text((WIDTH - 110, 11), "SANDBOX", fill="white", font=font)
    draw.text((10, HEIGHT - 22), f"procedural sample video  {index + 1}/{total}",
              fill="white", font=small)
    return image


def main() -> int:
    font = ImageFont.load_default(size=18)
    small = ImageFont.load_default(size=12)
    total = FPS * SECONDS
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(OUT), mode="w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"crf": "30", "preset": "veryslow", "profile": "baseline"}
        for index in range(total):
            video_frame = av.VideoFrame.from_image(frame(index, total, font, small))
            for packet in stream.encode(video_frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    print(f"{OUT}: {OUT.stat().st_size} bytes, {total} frames, {WIDTH}x{HEIGHT} @ {FPS} fps")
    return 0


if __name__ == "__main__":
    sys.exit(main())

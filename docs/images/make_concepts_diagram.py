"""Draws docs/images/concepts.svg, the picture in docs/concepts.md of how ganbench's parts connect.

    python docs/images/make_concepts_diagram.py

Plain SVG written by hand (no plotting library, no JavaScript), so the picture renders the same on GitHub,
in the docs site and offline. tests/test_docs_site.py checks that the committed file is this script's output.
"""

from dataclasses import dataclass
from html import escape
from pathlib import Path

WIDTH, HEIGHT = 1000, 600
BOX_WIDTH = 280
LEFT, MIDDLE, RIGHT = 15, 360, 705
GAP_LEFT, GAP_RIGHT = (LEFT + BOX_WIDTH + MIDDLE) // 2, (MIDDLE + BOX_WIDTH + RIGHT) // 2
FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'"


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    height: int
    title: str
    lines: tuple[str, ...]
    fill: str
    width: int = BOX_WIDTH


BLUE, PURPLE, GREEN, YELLOW, GREY = "#e3f2fd", "#ede7f6", "#e8f5e9", "#fff3cd", "#fafafa"
CLI_LINES = ("YAML config + flags (LightningCLI)", "builds each part from its class_path")
BOXES = [
    Box(MIDDLE - 30, 14, 78, "CLI: ganbench fit | test | predict", CLI_LINES, YELLOW, BOX_WIDTH + 60),
    Box(
        LEFT,
        150,
        130,
        "data: ganbench.data",
        (
            "a LightningDataModule",
            "yields (images, labels)",
            "image_shape, pixel_range,",
            "split_images for evaluations",
        ),
        BLUE,
    ),
    Box(
        MIDDLE,
        150,
        130,
        "module: ganbench.GAN",
        (
            "a LightningModule, all parts injected",
            "Algorithm 1 (k D steps per G step)",
            "or simultaneous updates; optimisers",
            "GAN.sample(n, labels=...)",
        ),
        PURPLE,
    ),
    Box(
        RIGHT,
        150,
        130,
        "callbacks: ganbench.callbacks",
        (
            "Lightning callbacks: checkpoints,",
            "sample grids, momentum ramp,",
            "evaluations -> val/..., test/...",
            "figures, samples to files",
        ),
        GREEN,
    ),
    Box(LEFT, 345, 80, "priors: ganbench.priors", ("Prior.sample(n, latent_dim)", "-> noise z (B, latent_dim)"), BLUE),
    Box(
        LEFT,
        470,
        100,
        "losses: ganbench.losses",
        (
            "GANLoss: logits in, scalar out",
            "discriminator_loss, generator_loss,",
            "optional penalty (R1, ...)",
        ),
        BLUE,
    ),
    Box(
        MIDDLE,
        345,
        80,
        "contract: ganbench.contract",
        (
            "generate, discriminate, encode:",
            "each net gets only what it declares",
        ),
        PURPLE,
    ),
    Box(
        MIDDLE,
        470,
        100,
        "networks: ganbench.nets",
        (
            "Generator: z (+ labels) -> images",
            "Discriminator: images -> logits (B,)",
            "Encoder (optional): images -> z",
        ),
        PURPLE,
    ),
    Box(RIGHT, 345, 80, "metrics: ganbench.metrics", ("Parzen window (Table 1),", "FID, KID, IS"), GREEN),
    Box(
        RIGHT,
        470,
        100,
        "run folder",
        (
            "runs/<experiment>/version_N/",
            "config.yaml, metrics.csv, samples/,",
            "checkpoints/, results.json",
        ),
        GREY,
    ),
]

#: (points of the line, label, label position)
ARROWS = [
    ([(MIDDLE + 20, 92), (LEFT + 200, 150)], "builds", (LEFT + 250, 108)),
    ([(MIDDLE + 140, 92), (MIDDLE + 140, 150)], "builds", (MIDDLE + 167, 108)),
    ([(MIDDLE + 260, 92), (RIGHT + 80, 150)], "builds", (RIGHT + 50, 108)),
    ([(LEFT + BOX_WIDTH, 215), (MIDDLE, 215)], "batches", (GAP_LEFT, 207)),
    ([(RIGHT, 215), (MIDDLE + BOX_WIDTH, 215)], "GAN.sample", (GAP_RIGHT, 207)),
    ([(MIDDLE + 40, 280), (LEFT + BOX_WIDTH, 385)], "draws z", (GAP_LEFT, 322)),
    ([(MIDDLE + 15, 280), (LEFT + BOX_WIDTH, 520)], "logits", (GAP_LEFT - 4, 455)),
    ([(MIDDLE + 140, 280), (MIDDLE + 140, 345)], "calls G, D, E", (MIDDLE + 185, 318)),
    ([(MIDDLE + 140, 425), (MIDDLE + 140, 470)], "", (0, 0)),
    ([(RIGHT + 140, 280), (RIGHT + 140, 345)], "scores", (RIGHT + 165, 318)),
    (
        [(RIGHT + BOX_WIDTH, 215), (WIDTH - 6, 215), (WIDTH - 6, 520), (RIGHT + BOX_WIDTH, 520)],
        "writes",
        (WIDTH - 28, 460),
    ),
]


def box(spec: Box) -> str:
    parts = [
        f"<rect x='{spec.x}' y='{spec.y}' width='{spec.width}' height='{spec.height}' rx='8' fill='{spec.fill}' "
        "stroke='#455a64'/>",
        f"<text x='{spec.x + 12}' y='{spec.y + 24}' font-size='15' font-weight='bold'>{escape(spec.title)}</text>",
    ]
    for index, line in enumerate(spec.lines):
        parts.append(f"<text x='{spec.x + 12}' y='{spec.y + 46 + 19 * index}' font-size='13'>{escape(line)}</text>")
    return "\n".join(parts)


def arrow(points: list[tuple[int, int]], label: str, at: tuple[int, int]) -> str:
    path = " ".join(f"{x},{y}" for x, y in points)
    parts = [f"<polyline points='{path}' fill='none' stroke='#37474f' stroke-width='1.6' marker-end='url(#head)'/>"]
    if label:
        parts.append(
            f"<text x='{at[0]}' y='{at[1]}' font-size='12' font-style='italic' text-anchor='middle' "
            f"fill='#37474f' stroke='white' stroke-width='4' paint-order='stroke'>{escape(label)}</text>"
        )
    return "\n".join(parts)


def diagram() -> str:
    """The whole SVG document."""
    trainer = (
        f"<rect x='6' y='120' width='{WIDTH - 20}' height='176' rx='10' fill='none' stroke='#90a4ae' "
        "stroke-dasharray='6 4'/>\n"
        "<text x='16' y='137' font-size='12' fill='#546e7a'>Lightning Trainer</text>"
    )
    body = [trainer]
    body += [box(spec) for spec in BOXES]
    body += [arrow(*spec) for spec in ARROWS]
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{HEIGHT}' "
        f"viewBox='0 0 {WIDTH} {HEIGHT}' {FONT} fill='#212121'>\n"
        "<title>How ganbench's parts connect</title>\n"
        "<defs><marker id='head' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='8' markerHeight='8' "
        "orient='auto-start-reverse'><path d='M0,0 L10,5 L0,10 z' fill='#37474f'/></marker></defs>\n"
        f"<rect width='{WIDTH}' height='{HEIGHT}' fill='white'/>\n" + "\n".join(body) + "\n</svg>\n"
    )


OUTPUT = Path(__file__).with_name("concepts.svg")

if __name__ == "__main__":
    OUTPUT.write_text(diagram())
    print(f"wrote {OUTPUT}")

"""The demo's vocabulary: label concepts, scene types and the NUS-WIDE tag words."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Concept:
    """A label: its COCO supercategory, tag-word synonyms and caption noun phrases."""

    name: str
    supercategory: str
    synonyms: tuple[str, ...]
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class Scene:
    """A scene type: its share of images, concept selection weights, tag words, caption phrases."""

    name: str  # also the NUS-WIDE Flickr folder (the query word)
    share: float
    weights: tuple[tuple[str, float], ...]
    words: tuple[str, ...]
    phrases: tuple[str, ...]


# Tables, laid out by hand: one concept or scene per entry, not one field per line.
# fmt: off
_CONCEPT_LIST = (
    Concept("animal", "animal", ("animals", "cow", "horse", "dog", "wildlife", "pet"),
            ("an animal", "a cow", "a horse", "a dog", "some animals", "a brown horse")),
    Concept("beach", "outdoor", ("seaside", "shore", "umbrella", "parasol"),
            ("a beach", "a beach umbrella", "an umbrella", "the beach")),
    Concept("birds", "animal", ("bird", "seagull", "gull", "pigeon", "flying"),
            ("a bird", "some birds", "two birds", "birds flying", "a flock of birds")),
    Concept("boats", "vehicle", ("boat", "sailboat", "sailing", "ship", "yacht"),
            ("a boat", "some boats", "a sailboat", "a small boat", "two boats")),
    Concept("buildings", "outdoor", ("building", "architecture", "skyscraper", "tower"),
            ("a building", "tall buildings", "some buildings", "an old building")),
    Concept("cars", "vehicle", ("car", "auto", "automobile", "traffic", "vehicle"),
            ("a car", "some cars", "a red car", "parked cars", "a vehicle")),
    Concept("clouds", "sky", ("cloud", "cloudy", "overcast"),
            ("clouds", "white clouds", "a cloud", "some clouds")),
    Concept("flags", "outdoor", ("flag", "banner"),
            ("a flag", "some flags", "a small flag", "a flag on a pole")),
    Concept("flowers", "plant", ("flower", "bloom", "blossom", "petals"),
            ("flowers", "some flowers", "colorful flowers", "a flower bed")),
    Concept("grass", "plant", ("field", "meadow", "lawn", "green"),
            ("grass", "a grassy field", "green grass", "a lawn")),
    Concept("moon", "sky", ("lunar", "fullmoon", "crescent"),
            ("the moon", "a full moon", "a bright moon")),
    Concept("mountain", "landscape", ("mountains", "peak", "hills", "alps"),
            ("a mountain", "mountains", "snowy peaks", "hills")),
    Concept("nighttime", "sky", ("night", "dark", "longexposure"),
            ("the night", "night time", "a dark night")),
    Concept("ocean", "water", ("sea", "waves", "seascape"),
            ("the ocean", "the sea", "ocean waves", "the blue sea")),
    Concept("person", "person", ("people", "portrait", "man", "woman", "girl", "boy"),
            ("a person", "a man", "a woman", "two people", "a young girl", "people")),
    Concept("road", "ground", ("street", "highway", "asphalt"),
            ("a road", "the street", "an empty road", "a highway")),
    Concept("sand", "ground", ("dunes", "sandy"),
            ("sand", "the sandy shore", "white sand")),
    Concept("sign", "outdoor", ("signs", "signage", "text", "streetsign"),
            ("a sign", "a street sign", "a yellow sign", "a road sign")),
    Concept("sky", "sky", ("blue", "skies", "skyscape"),
            ("the sky", "a blue sky", "a clear sky")),
    Concept("snow", "ground", ("winter", "snowy", "ice", "cold"),
            ("snow", "the snowy ground", "fresh snow")),
    Concept("sun", "sky", ("sunny", "sunshine", "sunlight"),
            ("the sun", "a bright sun", "sunshine")),
    Concept("sunset", "sky", ("dusk", "sunrise", "golden", "evening", "orange"),
            ("a sunset", "the sunset", "an orange sky at dusk")),
    Concept("tree", "plant", ("trees", "forest", "woods", "branches"),
            ("a tree", "some trees", "a tall tree", "trees")),
    Concept("water", "water", ("lake", "river", "pond", "reflection"),
            ("a lake", "a pond", "calm water", "a river")),
    Concept("window", "outdoor", ("windows", "glass", "facade"),
            ("windows", "a window", "many windows", "lit windows")),
)
CONCEPTS: dict[str, Concept] = {c.name: c for c in _CONCEPT_LIST}
LABEL_NAMES: tuple[str, ...] = tuple(sorted(CONCEPTS))

SCENES: tuple[Scene, ...] = (
    Scene("beach", 0.15,
          (("sky", 5), ("sand", 5), ("ocean", 5), ("beach", 4), ("person", 2.5), ("sun", 2),
           ("clouds", 2), ("birds", 1.5), ("boats", 1.2), ("sunset", 1.2), ("flags", 0.6),
           ("sign", 0.4)),
          ("beach", "summer", "vacation", "holiday", "tropical", "travel", "coast"),
          ("beach scene", "day at the beach", "seaside view")),
    Scene("street", 0.16,
          (("buildings", 5), ("road", 4.5), ("cars", 4), ("window", 3), ("person", 3), ("sky", 3),
           ("sign", 2.5), ("tree", 1.2), ("flags", 1), ("clouds", 0.8), ("birds", 0.5),
           ("animal", 0.4)),
          ("city", "urban", "downtown", "streetphotography", "citylife", "street"),
          ("city street", "busy street", "downtown area")),
    Scene("countryside", 0.15,
          (("grass", 5), ("sky", 4.5), ("tree", 4), ("animal", 3), ("clouds", 2.5), ("sun", 1.5),
           ("road", 1.2), ("flowers", 1.2), ("water", 1.2), ("birds", 1.2), ("mountain", 1),
           ("person", 0.8), ("buildings", 0.6), ("sunset", 0.6)),
          ("countryside", "rural", "landscape", "nature", "farm", "village"),
          ("country field", "rural landscape", "farm")),
    Scene("mountains", 0.13,
          (("mountain", 5), ("sky", 4.5), ("snow", 4), ("tree", 2.5), ("clouds", 2), ("water", 1.5),
           ("person", 1.2), ("sun", 1.2), ("grass", 1.2), ("sunset", 0.8), ("animal", 0.6),
           ("birds", 0.6)),
          ("mountains", "landscape", "nature", "hiking", "outdoors", "scenic"),
          ("mountain landscape", "snowy valley", "mountain view")),
    Scene("night", 0.12,
          (("nighttime", 6), ("buildings", 4), ("window", 3.5), ("sky", 2.5), ("moon", 2),
           ("cars", 2), ("road", 2), ("sign", 1.2), ("person", 1), ("water", 1), ("flags", 0.3)),
          ("night", "city", "lights", "nightlife", "longexposure", "cityscape"),
          ("city at night", "night scene", "dark city")),
    Scene("garden", 0.12,
          (("flowers", 5), ("grass", 4), ("tree", 3.5), ("sky", 2), ("person", 1.5), ("birds", 1.5),
           ("water", 1), ("animal", 1), ("sun", 0.8), ("sign", 0.6), ("buildings", 0.6),
           ("window", 0.3)),
          ("garden", "park", "spring", "macro", "nature", "botanical"),
          ("garden", "public park", "flower garden")),
    Scene("harbor", 0.145,
          (("boats", 5), ("sky", 4), ("ocean", 3), ("water", 2.5), ("buildings", 2), ("flags", 2),
           ("birds", 2), ("clouds", 1.8), ("person", 1), ("sunset", 0.8), ("nighttime", 0.6),
           ("window", 0.6), ("sign", 0.5), ("moon", 0.4)),
          ("harbor", "harbour", "port", "marina", "coast", "pier"),
          ("harbor", "marina", "small port")),
    # Label-free images, so "drop images without a label" has something to remove.
    Scene("abstract", 0.025, (), ("abstract", "art", "texture", "pattern", "minimal"), ()),
)
# fmt: on
SCENE_BY_NAME: dict[str, Scene] = {s.name: s for s in SCENES}


# --------------------------------------------------------------------------- tag words

# fmt: off
_UNRELATED_WORDS = (
    # cameras and photo jargon
    "nikon", "canon", "sony", "olympus", "pentax", "fuji", "leica", "kodak", "d80", "d200", "400d",
    "40d", "5d", "xti", "rebel", "eos", "dslr", "50mm", "zoom", "hdr", "bw", "blackandwhite",
    "monochrome", "sepia", "film", "lomo", "holga", "polaroid", "digital", "photo", "photography",
    "photos", "picture", "camera", "geotagged", "closeup", "bokeh",
    # Flickr group awards and fads
    "explore", "interestingness", "flickr", "abigfave", "aplusphoto", "anawesomeshot",
    "diamondclassphotographer", "flickrdiamond", "impressedbeauty", "superbmasterpiece",
    "naturesfinest", "platinumphoto", "colorphotoaward", "supershot", "bravo", "wow", "awesome",
    "cool", "favorite",
    # years, colours, numbers
    "2005", "2006", "2007", "2008", "2009", "red", "yellow", "purple", "pink", "white", "black",
    "color", "colour", "colors", "colorful", "one", "two", "three", "1", "2", "3", "100",
    # people and events
    "friends", "family", "me", "kids", "baby", "wedding", "party", "birthday", "christmas", "trip",
    "tourist", "autumn", "fall", "weekend", "july", "august", "music", "food", "cat", "school",
    "museum", "church", "history", "statue", "graffiti", "funny", "smile", "random", "morning",
    "weather", "outdoor",
    # places
    "usa", "california", "newyork", "london", "paris", "france", "italy", "japan", "china",
    "germany", "spain", "england", "canada", "australia", "europe", "mexico", "florida", "tokyo",
    "rome", "berlin", "sanfrancisco", "chicago", "seattle", "hawaii",
    # moods and generic words
    "light", "shadow", "old", "new", "vintage", "cute", "beautiful", "love", "fun", "happy", "life",
    "day", "world", "home", "square", "pretty", "walk", "view", "scenery",
)
# fmt: on


def _scene_words() -> list[str]:
    return [w for s in SCENES for w in s.words]


def _concept_words() -> list[str]:
    return [w for c in _CONCEPT_LIST for w in (c.name, *c.synonyms)]


# Sorted, so the list never depends on set iteration order.
TAG_NAMES: tuple[str, ...] = tuple(
    sorted(set(_concept_words()) | set(_scene_words()) | set(_UNRELATED_WORDS))
)
_UNRELATED_SORTED: tuple[str, ...] = tuple(
    sorted(set(_UNRELATED_WORDS) - set(_concept_words()) - set(_scene_words()))
)

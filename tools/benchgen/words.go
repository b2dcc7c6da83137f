package main

// words is the vocabulary of the generated text and of file and directory
// names. Earlier words are drawn more often (see textGen.word), which gives
// the text roughly the redundancy of real prose.
var words = []string{
	"the", "of", "and", "to", "in", "is", "it", "that", "for", "was",
	"on", "are", "as", "with", "by", "at", "be", "this", "from", "or",
	"have", "an", "they", "which", "one", "you", "were", "all", "we", "when",
	"there", "can", "been", "has", "more", "if", "will", "would", "each", "about",
	"how", "up", "out", "them", "then", "she", "many", "some", "so", "these",
	"time", "could", "other", "into", "than", "first", "water", "people", "way", "long",
	"little", "very", "after", "words", "called", "just", "where", "most", "know", "through",
	"back", "much", "before", "line", "right", "too", "means", "old", "any", "same",
	"tell", "following", "came", "want", "show", "also", "around", "form", "three", "small",
	"set", "put", "end", "does", "another", "well", "large", "must", "big", "even",
	"such", "because", "turned", "here", "why", "asked", "went", "men", "read", "need",
	"land", "different", "home", "move", "try", "kind", "hand", "picture", "again", "change",
	"off", "play", "spell", "air", "away", "animal", "house", "point", "page", "letter",
	"mother", "answer", "found", "study", "still", "learn", "should", "world", "high", "every",
	"near", "add", "food", "between", "own", "below", "country", "plant", "last", "school",
	"father", "keep", "tree", "never", "start", "city", "earth", "eyes", "light", "thought",
	"head", "under", "story", "saw", "left", "few", "while", "along", "might", "close",
	"something", "seemed", "next", "hard", "open", "example", "begin", "life", "always", "those",
	"both", "paper", "together", "got", "group", "often", "run", "important", "until", "children",
	"side", "feet", "car", "miles", "night", "walked", "white", "sea", "began", "grow",
	"took", "river", "four", "carry", "state", "once", "book", "hear", "stop", "without",
	"second", "later", "miss", "idea", "enough", "eat", "face", "watch", "far", "indian",
	"really", "almost", "let", "above", "girl", "sometimes", "mountains", "cut", "young", "talk",
	"soon", "list", "song", "being", "leave", "family", "body", "music", "color", "stand",
	"sun", "questions", "fish", "area", "mark", "dog", "horse", "birds", "problem", "complete",
	"room", "knew", "since", "ever", "piece", "told", "usually", "friends", "easy", "heard",
	"order", "red", "door", "sure", "become", "top", "ship", "across", "today", "during",
	"short", "better", "best", "however", "low", "hours", "black", "products", "happened", "whole",
	"measure", "remember", "early", "waves", "reached", "listen", "wind", "rock", "space", "covered",
	"fast", "several", "hold", "himself", "toward", "five", "step", "morning", "passed", "vowel",
}

// Extensions for generated file names, by kind of content.
var (
	binaryExts = []string{".bin", ".dat", ".img", ".pack", ".jpg", ".mp4", ".gz", ".iso"}
	textExts   = []string{".txt", ".md", ".log", ".csv", ".json", ".go", ".html", ".conf"}
)

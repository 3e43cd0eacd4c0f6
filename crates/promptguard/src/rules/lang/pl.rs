//! Polish rules (words view, written without diacritics: "ł" folds to "l",
//! "ą" to "a", "ż" to "z").
//!
//! Must never match a description ("próby wydobycia promptu"): the requests
//! here are imperatives addressed to the model.

use super::super::Family::*;
use super::super::Matcher::{Regex, Seq};
use super::super::RuleDef;
use super::super::ViewKind::{Squeezed, Words};
use super::super::{caps, rule};

pub(crate) static RULES: &[RuleDef] = &[
    // ---- instruction override ----
    rule(
        "pl.override_previous",
        Override,
        1.0,
        Words,
        Regex(
            r"\b(?:zignoruj|ignoruj|zapomnij|pomin|odrzuc|nie stosuj sie (?:juz |wiecej )?do|nie sluchaj|nie przestrzegaj|olej|porzuc|lekcewaz|zlekcewaz|anuluj|usun) (?:\w+ ){0,3}?(?:wszystkie|wszystkich|poprzednie|poprzednich|wczesniejsze|wczesniejszych|powyzsze|dotychczasowe|swoje|swoich|twoje|twoich|systemowe|pierwotne|otrzymane) (?:\w+ ){0,2}?(?:instrukcje|instrukcji|polecenia|polecen|zasady|zasad|reguly|regul|wytyczne|wytycznych|wskazowki|wskazowek|ograniczenia|ograniczen|prompt|rozkazy)\b",
        ),
    ),
    rule(
        "pl.forget_everything",
        Override,
        1.0,
        Words,
        Regex(
            r"\bzapomnij (?:o )?(?:wszystkim|wszystko) (?:co )?(?:\w+ ){0,4}?(?:powiedziano|mowiono|kazano|dostales|otrzymales|wczesniej|powyzej|przedtem)\b",
        ),
    ),
    rule(
        "pl.instructions_void",
        Override,
        0.8,
        Words,
        Regex(
            r"\b(?:instrukcje|zasady|reguly|wytyczne|polecenia)(?: \w+){0,3} (?:sa|zostaly|przestaly) (?:\w+ ){0,2}?(?:niewazne|uniewaznione|anulowane|nieaktualne|wylaczone|odwolane|zawieszone|obowiazywac)\b",
        ),
    ),
    rule(
        "pl.new_instruction",
        Override,
        0.5,
        Words,
        Regex(r"\b(?:nowa instrukcja|nowe instrukcje|nowe polecenie|nowe zadanie)\b"),
    ),
    rule(
        "pl.obey_only",
        Override,
        0.6,
        Words,
        Regex(
            r"\b(?:sluchaj|wykonuj|stosuj sie do|przestrzegaj) (?:\w+ ){0,2}?(?:tylko|wylacznie|jedynie) (?:tego|tej|tych|mnie|moich)\b",
        ),
    ),
    rule(
        "pl.address_model",
        Override,
        0.5,
        Words,
        Regex(
            r"\b(?:uwaga|wiadomosc|notatka|informacja|polecenie) (?:dla|do) (?:ai|si|asystenta|modelu|bota|chatbota|sztucznej inteligencji)\b",
        ),
    ),
    // ---- prompt extraction ----
    rule(
        "pl.reveal_prompt",
        Extraction,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:pokaz|wypisz|wyswietl|ujawnij|powtorz|podaj|skopiuj|napisz|zdradz|powiedz|wydrukuj|udostepnij) (?:(?:mi|nam|teraz|dokladnie|prosze) )*",
            r"(?:(?:swoj|swoje|swoja|twoj|twoje|twoja|swoich|twoich) (?:\w+ )?(?:prompt systemowy|prompt|instrukcje|zasady|reguly|wytyczne|konfiguracje|wiadomosc systemowa|polecenia)",
            r"|(?:prompt systemowy|wiadomosc systemowa|instrukcje systemowe|ukryte instrukcje))\b"
        )),
    ),
    rule(
        "pl.instructions_received",
        Extraction,
        1.0,
        Words,
        Regex(
            r"\b(?:powtorz|pokaz|podaj|wypisz|skopiuj|napisz|powiedz) (?:\w+ ){0,3}?(?:instrukcje|zasady|polecenia|wytyczne|reguly) (?:\w+ ){0,4}?(?:otrzymales|otrzymalas|dostales|dostalas|dal ci|dali ci|ci dal|ci dali|przekazal ci)\b",
        ),
    ),
    rule(
        "pl.prompt_question",
        Extraction,
        0.8,
        Words,
        Regex(
            r"\bjak(?:a|i|ie) (?:jest|sa|brzmi) (?:twoj|twoja|twoje|swoj) (?:prompt systemowy|wiadomosc systemowa|instrukcje systemowe)\b",
        ),
    ),
    rule(
        "pl.repeat_above",
        Extraction,
        1.0,
        Words,
        Regex(
            r"\b(?:powtorz|wypisz|skopiuj|pokaz|napisz|wydrukuj) (?:\w+ ){0,2}?(?:tekst|wiadomosc|instrukcje|slowa) (?:\w+ ){0,3}?(?:przed|nad|powyzej) (?:ta|tym|moja)\b",
        ),
    ),
    rule(
        "pl.prompt_mention",
        Extraction,
        0.3,
        Words,
        Regex(
            r"\b(?:prompt systemowy|promptu systemowego|wiadomosc systemowa|instrukcje systemowe|instrukcji systemowych)\b",
        ),
    ),
    // ---- persona ----
    rule(
        "pl.unbound_ai",
        Jailbreak,
        1.0,
        Words,
        Regex(
            r"\b(?:ai|si|sztuczna inteligencja|asystent|asystentem|model|modelem|chatbot|chatbotem|bot|botem) (?:\w+ )?bez (?:zadnych |wszelkich |jakichkolwiek )?(?:\w+ )?(?:ograniczen|zasad|filtrow|granic|wytycznych|cenzury|etyki|moralnosci|regul)\b",
        ),
    ),
    rule(
        "pl.no_guidelines",
        Jailbreak,
        0.6,
        Words,
        Regex(r"\bnie masz (?:juz )?zadnych (?:wytycznych|zasad|ograniczen|regul|filtrow)\b"),
    ),
    caps(rule(
        "pl.dan_persona",
        Jailbreak,
        1.0,
        Words,
        Regex(r"\b(?:jestes|badz|zostan) (?:(?:teraz|od teraz) )?(?:dan|stan|dude|aim)\b"),
    )),
    rule(
        "pl.persona_frame",
        Jailbreak,
        0.4,
        Words,
        Regex(
            r"\b(?:udawaj|zachowuj sie jak|wyobraz sobie|wciel sie w|odgrywaj role|od teraz jestes|teraz jestes|przejdz w tryb|wejdz w tryb)\b",
        ),
    ),
    rule(
        "pl.villain_persona",
        Jailbreak,
        0.5,
        Words,
        Regex(r"\bjestes (?:\w+ )?(?:hakerem|przestepca|zlosliwa si)\b"),
    ),
    rule(
        "pl.never_refuses",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:nigdy nie odmawia|nigdy nie odmawiasz|nigdy nie mowi nie|odpowiadaj na wszystko|odpowiada na wszystko|odpowiedz na wszystko)\b",
        ),
    ),
    rule(
        "pl.developer_mode",
        Jailbreak,
        0.5,
        Words,
        Regex(r"\b(?:tryb dewelopera|trybie dewelopera|tryb programisty|tryb deweloperski)\b"),
    ),
    rule(
        "pl.filters_off",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:filtry|ograniczenia|zasady|zabezpieczenia)(?: \w+){0,3} (?:sa|zostaly) (?:\w+ )?(?:wylaczone|usuniete|zniesione|dezaktywowane)\b",
        ),
    ),
    rule(
        "pl.no_ethics",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:bez|zadnych|nie masz) (?:\w+ )?(?:granic etycznych|granic moralnych|skrupulow|etyki|moralnosci)\b",
        ),
    ),
    // ---- secret requests ----
    rule(
        "pl.send_secrets",
        Exfiltration,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:wyslij|przeslij|wrzuc|przekaz) (?:(?:mi|wszystkie|wszystkich|swoje|twoje|zapisane|zawartosc) )*",
            r"(?:klucze api|klucz api|kluczy api|hasla|hasel|haslo|dane logowania|dane uwierzytelniajace|tokeny|tokenow|token|sekrety|sekretow|klucze prywatne|plik env|pliku env|historie czatu|historia czatu|historie rozmowy)",
            r"\b(?: \w+){0,4} (?:na|do|pod)\b"
        )),
    ),
    rule(
        "pl.give_secrets",
        Exfiltration,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:podaj|pokaz|ujawnij|zdradz|wypisz|skopiuj|daj|udostepnij|powiedz) (?:(?:mi|nam|wszystkie|swoje|swoj|twoje|twoj|zapisane|zawartosc|pliku) )*",
            r"(?:klucze api|klucz api|kluczy api|hasla|hasel|haslo|dane logowania|dane uwierzytelniajace|tokeny|token|sekrety|klucze prywatne|plik env|pliku env|env|historie czatu)\b"
        )),
    ),
    // ---- letter-spaced core phrases ----
    rule(
        "pl.spaced_override",
        Override,
        1.0,
        Squeezed,
        Seq(&[
            &["zignoruj", "zapomnij", "ignoruj"],
            &[
                "wszystkie poprzednie instrukcje",
                "poprzednie instrukcje",
                "swoje instrukcje",
                "o wszystkim co ci powiedziano",
            ],
        ]),
    ),
    rule(
        "pl.spaced_extraction",
        Extraction,
        1.0,
        Squeezed,
        Seq(&[
            &["pokaz", "ujawnij", "powtorz", "podaj"],
            &[
                "swoj prompt systemowy",
                "swoje ukryte instrukcje",
                "swoja wiadomosc systemowa",
            ],
        ]),
    ),
];

//! French rules (words view, written without accents; "l'IA" reads
//! "l ia").
//!
//! Must never match a description ("les tentatives d'extraire le prompt"):
//! the requests here are imperatives (tu and vous) addressed to the model.

use super::super::Family::*;
use super::super::Matcher::{Regex, Seq};
use super::super::RuleDef;
use super::super::ViewKind::{Squeezed, Words};
use super::super::{caps, rule};

pub(crate) static RULES: &[RuleDef] = &[
    // ---- instruction override ----
    rule(
        "fr.override_previous",
        Override,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:ignore|ignorez|oublie|oubliez|ne tiens plus compte (?:de|des)|ne tenez plus compte (?:de|des)|ne tiens pas compte (?:de|des)|ne tenez pas compte (?:de|des)|fais abstraction (?:de|des)|faites abstraction (?:de|des)|passe outre|passez outre|neglige|negligez|n obeis plus (?:a|aux)|desobeis|mets de cote|laisse tomber|annule|annulez|efface|effacez) (?:\w+ ){0,3}?",
            r"(?:(?:toutes|tous|precedentes|anterieures|tes|vos|ses|initiales|originales|recues|donnees) (?:\w+ ){0,2}?(?:instructions|consignes|regles|directives|indications|ordres|prompts?|restrictions|commandes)",
            r"|(?:instructions|consignes|regles|directives|indications|ordres|restrictions) (?:\w+ ){0,2}?(?:precedentes|anterieures|initiales|originales|du systeme|systeme))\b"
        )),
    ),
    rule(
        "fr.forget_everything",
        Override,
        1.0,
        Words,
        Regex(
            r"\b(?:oublie|oubliez|ignore|ignorez) tout (?:ce (?:qu on t a|qu on vous a|que tu as|que vous avez|qui (?:precede|est au dessus))|(?:\w+ ){0,6}?(?:avant|auparavant|precedemment|plus haut|ci dessus))\b",
        ),
    ),
    rule(
        "fr.instructions_void",
        Override,
        0.8,
        Words,
        Regex(
            r"\b(?:instructions|consignes|regles|directives|ordres)(?: \w+){0,3} (?:ne )?(?:sont|est|ont ete) (?:\w+ ){0,2}?(?:annulees|caduques|nulles|invalides|obsoletes|levees|suspendues|revoquees|plus valables|plus valides|plus en vigueur)\b",
        ),
    ),
    rule(
        "fr.new_instruction",
        Override,
        0.5,
        Words,
        Regex(
            r"\bnouvelles? (?:consigne|consignes|instruction|instructions|directive|mission|tache)\b",
        ),
    ),
    rule(
        "fr.obey_only",
        Override,
        0.6,
        Words,
        Regex(
            r"\b(?:obeis|obeissez|suis|suivez) (?:seulement|uniquement|qu) (?:a )?(?:ce|cette|ces|mes|moi)\b",
        ),
    ),
    rule(
        "fr.address_model",
        Override,
        0.5,
        Words,
        Regex(
            r"\b(?:note|message|remarque|consigne|attention) (?:pour|a) (?:l ia|l ai|l assistant|le modele|le bot|le chatbot|l intelligence artificielle)\b",
        ),
    ),
    // ---- prompt extraction ----
    rule(
        "fr.reveal_prompt",
        Extraction,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:affiche|affichez|montre|montre moi|montrez|montrez moi|revele|revelez|revele moi|repete|repetez|imprime|imprimez|copie|copiez|dis moi|dites moi|ecris|ecrivez|donne moi|donnez moi|donne|partage|liste|recite) (?:(?:moi|nous|maintenant|exactement|stp) )*",
            r"(?:(?:ton|ta|tes|votre|vos) (?:\w+ )?(?:prompt|instructions|consignes|regles|directives|configuration|message systeme)",
            r"|(?:le |la |les )?(?:prompt systeme|prompt du systeme|message systeme|message du systeme|system prompt|instructions cachees|instructions systeme|instructions initiales|consignes cachees))\b"
        )),
    ),
    rule(
        "fr.instructions_received",
        Extraction,
        1.0,
        Words,
        Regex(
            r"\b(?:repete|repetez|montre moi|dis moi|dites moi|revele|copie|ecris|affiche|liste|imprime) (?:\w+ ){0,2}?(?:les |quelles |quels )?(?:instructions|consignes|regles|directives) (?:(?:que|qu) )?(?:\w+ ){0,2}?(?:tu as|vous avez|on t a|on vous a|t a|t ont|vous a|vous ont) (?:\w+ )?(?:recues|recu|donnees|donne|fournies|dit|dites)\b",
        ),
    ),
    rule(
        "fr.prompt_question",
        Extraction,
        0.8,
        Words,
        Regex(
            r"\bquel(?:le)?s? (?:est|sont) (?:ton|ta|tes|votre|vos) (?:prompt|message|instructions|consignes) (?:systeme|du systeme)\b",
        ),
    ),
    rule(
        "fr.repeat_above",
        Extraction,
        1.0,
        Words,
        Regex(
            r"\b(?:repete|repetez|imprime|imprimez|copie|copiez|affiche|ecris|recite) (?:\w+ ){0,2}?(?:texte|message|instructions|mots|lignes) (?:qui (?:\w+ ){0,2}?)?(?:avant|au dessus de|precedant) (?:ce|cette|mon)\b",
        ),
    ),
    rule(
        "fr.prompt_mention",
        Extraction,
        0.3,
        Words,
        Regex(
            r"\b(?:prompt systeme|prompt du systeme|message systeme|message du systeme|instructions du systeme|instructions systeme)\b",
        ),
    ),
    // ---- persona ----
    rule(
        "fr.unbound_ai",
        Jailbreak,
        1.0,
        Words,
        Regex(
            r"\b(?:ia|ai|assistant|intelligence artificielle|modele|chatbot|bot|version de toi) (?:\w+ )?(?:sans|libre de|libere de|depourvue? de) (?:aucune |aucun |toute |tout |les |ses )?(?:\w+ )?(?:restrictions?|regles|filtres|limites|directives|censure|ethique|morale)\b",
        ),
    ),
    rule(
        "fr.no_guidelines",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:tu n as|vous n avez|n a) (?:plus )?(?:aucune|aucun) (?:directive|directives|regle|regles|restriction|restrictions|limite|limites|filtre|filtres)\b",
        ),
    ),
    caps(rule(
        "fr.dan_persona",
        Jailbreak,
        1.0,
        Words,
        Regex(
            r"\b(?:tu es|vous etes|sois|soyez|deviens|devenez|incarne) (?:(?:maintenant|desormais|a partir de maintenant) )?(?:dan|stan|dude|aim)\b",
        ),
    )),
    rule(
        "fr.persona_frame",
        Jailbreak,
        0.4,
        Words,
        Regex(
            r"\b(?:fais comme si|faites comme si|agis comme|agissez comme|fais semblant|faites semblant|imagine que|imaginez que|joue le role|jouez le role|a partir de maintenant tu es|desormais tu es|tu es maintenant|comporte toi comme|passe en mode|passez en mode)\b",
        ),
    ),
    rule(
        "fr.villain_persona",
        Jailbreak,
        0.5,
        Words,
        Regex(
            r"\b(?:tu es|vous etes|tu deviens) (?:un|une) (?:pirate informatique|hacker|criminel|ia malveillante)\b",
        ),
    ),
    rule(
        "fr.never_refuses",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\bne (?:refuse|refusez|refuses|dit|dis|dites) jamais(?: non)?\b|\b(?:reponds|repondez|repond|repondre) a (?:tout|toutes les questions|n importe quoi)\b",
        ),
    ),
    rule(
        "fr.developer_mode",
        Jailbreak,
        0.5,
        Words,
        Regex(r"\b(?:mode developpeur|mode dieu)\b"),
    ),
    rule(
        "fr.filters_off",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:filtres|restrictions|regles|protections|garde fous|limites)(?: \w+){0,3} (?:sont|ont ete) (?:\w+ )?(?:desactives|desactivees|supprimes|supprimees|leves|levees|coupes|coupees|eteints)\b",
        ),
    ),
    rule(
        "fr.no_ethics",
        Jailbreak,
        0.6,
        Words,
        Regex(
            r"\b(?:sans|aucune|aucun|pas de) (?:\w+ )?(?:limites ethiques|limites morales|scrupules|ethique|morale)\b",
        ),
    ),
    // ---- secret requests ----
    rule(
        "fr.send_secrets",
        Exfiltration,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:envoie|envoyez|envoie moi|transmets|transmettez|transfere|transferez|expedie|poste|televerse) (?:(?:moi|nous|toutes|tous|les|le|la|l|tes|ta|ton|vos|votre|stockes|stockees|contenu|du|de|des) )*",
            r"(?:cles? api|cles? d api|cle de l api|api keys?|mots de passe|mot de passe|identifiants|jetons?|tokens?|secrets|cles privees|fichier env|historique de la conversation|historique du chat|historique de conversation)",
            r"\b(?: \w+){0,6} (?:a|au|vers|sur|chez)\b"
        )),
    ),
    rule(
        "fr.give_secrets",
        Exfiltration,
        1.0,
        Words,
        Regex(concat!(
            r"\b(?:donne moi|donnez moi|donne|montre moi|montrez moi|montre|revele|revelez|dis moi|dites moi|copie|copiez|affiche|liste|imprime|partage) (?:(?:moi|nous|tous|toutes|les|le|la|l|tes|ta|ton|vos|votre|stockes|stockees|enregistres|enregistrees|contenu|du|de|des|stp) )*",
            r"(?:cles? api|cles? d api|cle de l api|api keys?|mots de passe|mot de passe|identifiants|jetons?|tokens?|secrets|cles privees|fichier env|historique de la conversation|historique du chat)\b"
        )),
    ),
    // ---- letter-spaced core phrases ----
    rule(
        "fr.spaced_override",
        Override,
        1.0,
        Squeezed,
        Seq(&[
            &["ignore", "oublie", "ignorez", "oubliez"],
            &[
                "les instructions precedentes",
                "toutes les instructions",
                "tes instructions",
                "tes regles",
                "tout ce qu on t a dit",
            ],
        ]),
    ),
    rule(
        "fr.spaced_extraction",
        Extraction,
        1.0,
        Squeezed,
        Seq(&[
            &["affiche", "montre moi", "revele", "repete"],
            &[
                "ton prompt systeme",
                "tes instructions cachees",
                "ton message systeme",
            ],
        ]),
    ),
];

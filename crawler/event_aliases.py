"""The shipped alias table of event evidence: one concept for the ways English, French,
Haitian Creole and Spanish (and a few other languages the feeds carry) name the same entity
or newsroom term, so that a French and an English report of one event share evidence.

Phrases are written folded (lowercase, no accents: ``db.textnorm.fold``), words separated by
single spaces; a phrase matches whole words of the folded text, longest first.
"""

from __future__ import annotations

from typing import Final

#: concept -> the phrases that name it. Entities start with "e:", terms with "t:".
ALIASES: Final[dict[str, tuple[str, ...]]] = {
    # -- entities ----------------------------------------------------------------------------
    "e:haiti": ("haiti", "haitian", "haitians", "haitien", "haitiens", "haitienne", "ayiti",
                "ayisyen", "haitiano", "haitianos", "haitiana", "haitianas", "haitańczycy"),
    "e:kenya": ("kenya", "kenia", "kenyan", "kenyans", "kenyan-led", "kenyane", "kenyanes",
                "keniano", "kenianos", "keniana", "kenyen", "kenyens", "kenyanne", "kenyà"),
    "e:un": ("un", "united nations", "nations unies", "naciones unidas",
             "nasyon zini", "onu", "oni", "onz", "uno"),
    "e:unsc": ("security council", "un security council", "conseil de securite",
               "consejo de seguridad", "konsey sekirite", "unsc", "rada bezpieczenstwa"),
    "e:us": ("us", "usa", "united states", "etats-unis", "etats unis",
             "estados unidos", "eeuu", "eta zini", "washington", "americain", "americaine",
             "american", "usa"),
    "e:mss": ("mss", "multinational security support", "mission multinationale d'appui a la "
              "securite", "mision multinacional de apoyo a la seguridad", "misyon miltinasyonal",
              "gang suppression force", "force de repression des gangs", "gsf"),
    "e:dominican-republic": ("dominican republic", "republique dominicaine",
                             "republica dominicana", "repiblik dominikani", "dominikani"),
    "e:canada": ("canada", "canadian", "canadien", "canadienne", "canadiense", "kanada"),
    "e:mexico": ("mexico", "mexique", "mexican", "meksik", "meksyk"),
    "e:france": ("france", "french", "francia", "frans", "francja"),
    "e:port-au-prince": ("port-au-prince", "port au prince", "potoprens", "puerto principe"),
    "e:nairobi": ("nairobi",),
    "e:ariel-henry": ("ariel henry", "henry"),
    "e:william-ruto": ("william ruto", "ruto"),
    "e:guterres": ("antonio guterres", "guterres"),
    "e:biden": ("joe biden", "biden", "bayden"),
    "e:caricom": ("caricom",),
    "e:oas": ("oas", "oea", "organization of american states",
              "organisation des etats americains", "organizacion de los estados americanos"),
    "e:white-house": ("white house", "maison blanche", "casa blanca", "kay blanch"),
    "e:state-department": ("state department", "departement d'etat",
                           "departamento de estado"),
    "e:cholera": ("cholera", "colera", "kolera", "cholere"),
    "e:tps": ("tps", "temporary protected status", "statut de protection temporaire",
              "estatus de proteccion temporal", "temporary status", "temporary protections"),
    # -- terms -------------------------------------------------------------------------------
    "t:vote": ("vote", "votes", "voted", "voting", "vot", "vote", "votent", "voter", "votan",
               "voto", "votaron", "voto", "votacion", "glosowanie"),
    "t:resolution": ("resolution", "resolutions", "resolucion", "rezolisyon", "rezolucja"),
    "t:sanctions": ("sanction", "sanctions", "sanctioned", "sanctionne", "sanctionnes",
                    "sancion", "sanciones", "sanksyon", "sankcje"),
    "t:mission": ("mission", "missions", "mision", "misyon", "misja"),
    "t:multinational": ("multinational", "multinationale", "multinacional", "miltinasyonal",
                        "international force", "force internationale", "fuerza internacional"),
    "t:troops": ("troops", "soldiers", "troupes", "soldats", "tropas", "soldados", "twoup",
                 "solda", "military assistance", "military help", "armed force", "armed forces",
                 "force armee", "wojsko", "wojska", "military intervention",
                 "intervention militaire", "intervencion militar", "armed intervention",
                 "przyslanie wojska"),
    "t:force": ("force", "forces", "fuerza", "fuerzas", "fos", "sil", "sily"),
    "t:shot": ("shot", "shooting", "gunned down", "gunmen", "abattu", "fusille", "balles",
               "baleado", "tiroteo", "tire", "zastrzelony"),
    "t:intervention": ("intervene", "intervention", "intervenir", "intervencion",
                       "entevansyon", "interwencja", "interwencji"),
    "t:police": ("police", "officers", "policiers", "policia", "policias", "polis", "policja",
                 "policjantow", "policemen"),
    "t:gangs": ("gang", "gangs", "pandilla", "pandillas", "bandes", "bandits", "gangi"),
    "t:deploy": ("deploy", "deployed", "deploys", "deployment", "deployer", "deploie",
                 "deploiement", "desplegar", "despliegue", "deplwaye", "deplwaman", "wyslanie",
                 "wyslac", "send", "sends", "sending", "envoyer", "envoi", "enviar", "voye"),
    "t:authorize": ("authorize", "authorizes", "authorized", "authorise", "authorises",
                    "authorised", "authorizing", "authorising", "autorise", "autoriser",
                    "autorisant",
                    "autorizando", "autoriza", "autorizo",
                    "otorize"),
    "t:killed": ("killed", "dead", "dies", "died", "death", "deaths", "tues", "tue", "morts",
                 "mort", "muertos", "muerto", "murio", "mouri", "nie zyje", "zginal"),
    "t:kidnapped": ("kidnapped", "kidnapping", "kidnappings", "enleves", "enlevement",
                    "secuestrados", "secuestro", "kidnape"),
    "t:election": ("election", "elections", "elecciones", "eleccion", "eleksyon", "wybory"),
    "t:plane-crash": ("plane crash", "crash", "accident d'avion", "accidente aereo",
                      "katastrofa"),
    "t:prime-minister": ("prime minister", "premier ministre", "primer ministro",
                         "premye minis"),
    "t:request": ("asks", "asked", "request", "requests", "requested", "appeal", "appeals",
                  "demande", "demandent", "pide", "solicita", "mande", "prosza"),
    "t:migrants": ("migrants", "migrant", "migrantes", "imigran", "refugees", "refugies"),
    "t:vaccine": ("vaccine", "vaccines", "vaccins", "vacunas", "vaksen", "szczepionki"),
    "t:drought": ("drought", "secheresse", "sequia", "sechrès", "sechres", "susza"),
    "t:marathon": ("marathon", "maraton", "maraton"),
    "t:supreme-court": ("supreme court", "cour supreme", "corte suprema", "tribunal supremo",
                        "lakou kasasyon"),
}  # fmt: skip

#: Phrases that are an alias only when written in capitals in the text ("US" and "us", "UN"
#: and the French article "un", the Polish pronoun "oni").
UPPERCASE_ONLY: Final = frozenset(
    {"us", "un", "uno", "oni", "onz", "mss", "gsf", "oas", "oea", "tps"}
)

#: Concepts too common in the monitored news to tell one event from another on their own:
#: they count, lightly, but are not index keys.
COMMON: Final = frozenset(
    {"e:haiti", "e:port-au-prince", "e:kenya", "e:un", "e:us"}
    | {"t:gangs", "t:police", "t:killed", "t:mission"}
)

#: Words that are not evidence (English, French, Spanish, Haitian Creole, Polish function
#: words and news filler), folded.
_STOPWORD_TEXT: Final = """
    a an the of to in on at for by with from and or but as is are was were be been has have
    had will would can could may might it its this that these those their they he she his her
    we our you not no new after over into about amid says said say than more most up out also
    who what when where why how all some any just one two three first last year years day week
    de la le les des du un une et en au aux dans pour par sur avec sans est sont a ete qui que
    ce cet cette ces son sa ses leur leurs plus ne pas il elle ils elles on nous vous apres el
    los las del y con por para al es son fue ha han se su sus lo como mas muy sin tras li yo
    nan ak pou ki se sou pa te ap gen sa la nou w ou an e ke lan epi men i w z na do od sie
    jest sa nie to za po o ze oraz monday tuesday wednesday thursday friday saturday sunday
    lundi mardi mercredi jeudi vendredi samedi dimanche lunes martes miercoles jueves viernes
    sabado domingo lendi madi mekredi jedi vandredi samdi dimanch today yesterday hier ayer
"""
#: Month names (folded): a date tells no event apart, nor does the day number beside one.
_MONTH_TEXT: Final = """
    january february march april may june july august september october november december
    janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre
    enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre
    janvye fevriye mas avril me jen jiye out septanm oktob novanm desanm
"""
MONTHS: Final = frozenset(_MONTH_TEXT.split())
STOPWORDS: Final = frozenset(_STOPWORD_TEXT.split()) | MONTHS

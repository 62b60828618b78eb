<?php
/**
 * Export archives the daemon built for "Export everywhere": kept in WordPress's own personal
 * data exports folder under an unguessable name, so the admin page can offer a download, and
 * deleted after a few days.
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * Stores and expires export archives.
 */
class Wpprivsync_Exports {

	const PREFIX   = 'wpprivsync-export-';
	const TTL_DAYS = 7;
	/** Largest archive accepted, in bytes after base64 decoding. */
	const MAX_BYTES = 20971520;

	/**
	 * Stores a ZIP archive; returns its URL and expiry, or an error.
	 *
	 * @param string $base64 The archive, base64-encoded.
	 * @return array|WP_Error
	 */
	public static function store( $base64 ) {
		$bytes = base64_decode( (string) $base64, true );
		// A ZIP starts with a local file header, or (empty) with the end-of-directory record.
		if ( false === $bytes || strlen( $bytes ) < 22 || ! in_array( substr( $bytes, 0, 4 ), array( "PK\x03\x04", "PK\x05\x06" ), true ) ) {
			return new WP_Error( 'wpprivsync_bad_archive', __( 'The export is not a base64-encoded ZIP archive.', 'wpprivsync' ), array( 'status' => 400 ) );
		}
		if ( strlen( $bytes ) > self::MAX_BYTES ) {
			return new WP_Error( 'wpprivsync_archive_too_large', __( 'The export archive is too large.', 'wpprivsync' ), array( 'status' => 413 ) );
		}
		$dir = self::dir();
		if ( is_wp_error( $dir ) ) {
			return $dir;
		}
		self::cleanup();
		$name = self::PREFIX . wp_generate_password( 32, false, false ) . '.zip';
		if ( false === file_put_contents( $dir . $name, $bytes ) ) { // phpcs:ignore WordPress.WP.AlternativeFunctions
			return new WP_Error( 'wpprivsync_export_unwritable', __( 'Could not write the export archive.', 'wpprivsync' ), array( 'status' => 500 ) );
		}
		return array(
			'url'        => wp_privacy_exports_url() . $name,
			'expires_at' => gmdate( 'Y-m-d\TH:i:s\Z', time() + self::TTL_DAYS * DAY_IN_SECONDS ),
		);
	}

	/**
	 * Deletes archives older than TTL_DAYS; returns how many went.
	 *
	 * @return int
	 */
	public static function cleanup() {
		return self::delete_archives( time() - self::TTL_DAYS * DAY_IN_SECONDS );
	}

	/**
	 * Deletes every archive (uninstall); returns how many went.
	 *
	 * @return int
	 */
	public static function delete_all() {
		return self::delete_archives( null );
	}

	/**
	 * Deletes the archives last written before a time (all of them for null).
	 *
	 * @param int|null $before Unix time, or null.
	 * @return int How many went.
	 */
	private static function delete_archives( $before ) {
		$removed = 0;
		foreach ( (array) glob( wp_privacy_exports_dir() . self::PREFIX . '*.zip' ) as $file ) {
			if ( is_file( $file ) && ( null === $before || filemtime( $file ) < $before ) ) {
				$removed += wp_delete_file_from_directory( $file, wp_privacy_exports_dir() ) ? 1 : 0;
			}
		}
		return $removed;
	}

	/**
	 * Whether an archive URL still points at a file (for the admin page's link).
	 *
	 * @param string $url Archive URL.
	 * @return bool
	 */
	public static function exists( $url ) {
		$name = basename( (string) wp_parse_url( (string) $url, PHP_URL_PATH ) );
		return 0 === strpos( $name, self::PREFIX ) && is_file( wp_privacy_exports_dir() . $name );
	}

	/**
	 * The exports folder, created like core creates it (no listing).
	 *
	 * @return string|WP_Error
	 */
	private static function dir() {
		$dir = wp_privacy_exports_dir();
		if ( ! wp_mkdir_p( $dir ) ) {
			return new WP_Error( 'wpprivsync_export_unwritable', __( 'Could not create the exports folder.', 'wpprivsync' ), array( 'status' => 500 ) );
		}
		if ( ! file_exists( $dir . 'index.php' ) ) {
			file_put_contents( $dir . 'index.php', "<?php\n// Silence is golden.\n" ); // phpcs:ignore WordPress.WP.AlternativeFunctions
		}
		return $dir;
	}
}

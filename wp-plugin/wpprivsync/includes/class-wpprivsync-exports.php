<?php
/**
 * Export archives the daemon built for "Export everywhere": kept in a private folder inside
 * WordPress's personal data exports folder under an unguessable name, served only through an
 * authenticated handler (logged in, the export capability, a nonce) while the link is fresh,
 * and deleted after a few days.
 *
 * The folder refuses direct access: `.htaccess` for Apache, `index.php` against listings; on
 * nginx the site needs the rule in docs/SECURITY.md (`location ^~ /wp-content/uploads/
 * wp-personal-data-exports/wpprivsync/ { deny all; }`).
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * Stores, serves and expires export archives.
 */
class Wpprivsync_Exports {

	const PREFIX   = 'wpprivsync-export-';
	const FOLDER   = 'wpprivsync/';
	const TTL_DAYS = 7;
	/** Largest archive accepted, in bytes after base64 decoding. */
	const MAX_BYTES = 20971520;
	/** The admin-post action of the download handler. */
	const ACTION = 'wpprivsync_download_export';
	/** The capability a downloader needs: core's own for personal data exports. */
	const CAPABILITY = 'export_others_personal_data';
	/** What an archive name looks like (nothing else is ever served or deleted). */
	const NAME_PATTERN = '/^wpprivsync-export-[A-Za-z0-9]{32}\.zip$/';

	/** Apache: no direct access (2.4 and 2.2 syntax). */
	const HTACCESS = "# wpprivsync: export archives are served only through wp-admin/admin-post.php\n<IfModule mod_authz_core.c>\n\tRequire all denied\n</IfModule>\n<IfModule !mod_authz_core.c>\n\tOrder deny,allow\n\tDeny from all\n</IfModule>\n";

	/**
	 * Hooks the download handler (admin-post: logged-in users only).
	 */
	public static function register() {
		add_action( 'admin_post_' . self::ACTION, array( __CLASS__, 'handle_download' ) );
	}

	/**
	 * Stores a ZIP archive; returns its download URL (the handler, never the file), name and
	 * expiry, or an error.
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
		chmod( $dir . $name, 0600 ); // phpcs:ignore WordPress.WP.AlternativeFunctions
		return array(
			'url'        => self::download_url( $name, false ),
			'name'       => $name,
			'expires_at' => gmdate( 'Y-m-d\TH:i:s\Z', time() + self::TTL_DAYS * DAY_IN_SECONDS ),
		);
	}

	/**
	 * The handler URL of an archive, with a nonce for the current user when asked.
	 *
	 * @param string $name  Archive name.
	 * @param bool   $nonce Whether to add the current user's nonce.
	 * @return string
	 */
	public static function download_url( $name, $nonce = true ) {
		$url = add_query_arg(
			array(
				'action' => self::ACTION,
				'file'   => rawurlencode( $name ),
			),
			admin_url( 'admin-post.php' )
		);
		return $nonce ? wp_nonce_url( $url, self::ACTION . ':' . $name ) : $url;
	}

	/**
	 * The archive name a URL names (the handler's "file", or a file name at the end of the
	 * path for links of older versions), if it is one of ours; else null. Only the name is
	 * ever taken from a URL: the link the page shows is built here, on this site.
	 *
	 * @param string $url URL (from the daemon's heartbeat).
	 * @return string|null
	 */
	public static function name_from_url( $url ) {
		$url   = (string) $url;
		$query = (string) wp_parse_url( $url, PHP_URL_QUERY );
		$args  = array();
		wp_parse_str( $query, $args );
		$name = isset( $args['file'] ) && is_string( $args['file'] ) ? rawurldecode( $args['file'] ) : basename( (string) wp_parse_url( $url, PHP_URL_PATH ) );
		return preg_match( self::NAME_PATTERN, $name ) ? $name : null;
	}

	/**
	 * The admin page's link for an archive URL the daemon reported: on this site, with a nonce,
	 * while the archive exists and is fresh; else ''.
	 *
	 * @param string $url URL.
	 * @return string
	 */
	public static function link_for( $url ) {
		$name = self::name_from_url( $url );
		return null !== $name && self::fresh( $name ) ? self::download_url( $name ) : '';
	}

	/**
	 * Whether an archive URL still points at a fresh file (for the admin page's link).
	 *
	 * @param string $url Archive URL.
	 * @return bool
	 */
	public static function exists( $url ) {
		return '' !== self::link_for( $url );
	}

	/**
	 * Whether an archive exists and is younger than TTL_DAYS.
	 *
	 * @param string $name Archive name.
	 * @return bool
	 */
	private static function fresh( $name ) {
		$path = self::path( $name );
		return null !== $path && filemtime( $path ) >= time() - self::TTL_DAYS * DAY_IN_SECONDS;
	}

	/**
	 * The file of an archive name, in the private folder or (older versions) the exports folder.
	 *
	 * @param string $name Archive name.
	 * @return string|null
	 */
	private static function path( $name ) {
		if ( ! preg_match( self::NAME_PATTERN, (string) $name ) ) {
			return null;
		}
		foreach ( array( wp_privacy_exports_dir() . self::FOLDER, wp_privacy_exports_dir() ) as $dir ) {
			if ( is_file( $dir . $name ) ) {
				return $dir . $name;
			}
		}
		return null;
	}

	/**
	 * The admin-post handler: streams an archive to a logged-in user with the export capability
	 * whose nonce matches, while it is fresh. Anything else dies with 403/404/410 and sends
	 * nothing of the archive.
	 */
	public static function handle_download() {
		$name = isset( $_GET['file'] ) ? sanitize_file_name( rawurldecode( wp_unslash( (string) $_GET['file'] ) ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification.Recommended, WordPress.Security.ValidatedSanitizedInput.InputNotSanitized -- the nonce is verified below, per file; sanitize_file_name() runs after the decoding
		if ( ! current_user_can( self::CAPABILITY ) ) {
			wp_die( esc_html__( 'You are not allowed to download personal data exports.', 'wpprivsync' ), 403 );
		}
		$nonce = isset( $_GET['_wpnonce'] ) ? sanitize_text_field( wp_unslash( (string) $_GET['_wpnonce'] ) ) : '';
		if ( ! preg_match( self::NAME_PATTERN, $name ) || ! wp_verify_nonce( $nonce, self::ACTION . ':' . $name ) ) {
			wp_die( esc_html__( 'This download link is not valid (or has expired); open it again from Tools → Privacy Sync.', 'wpprivsync' ), 403 );
		}
		$path = self::path( $name );
		if ( null === $path ) {
			wp_die( esc_html__( 'This export no longer exists.', 'wpprivsync' ), 404 );
		}
		if ( ! self::fresh( $name ) ) {
			wp_delete_file( $path );
			wp_die( esc_html__( 'This export has expired.', 'wpprivsync' ), 410 );
		}
		nocache_headers();
		header( 'Content-Type: application/zip' );
		header( 'Content-Disposition: attachment; filename="wpprivsync-export.zip"' );
		header( 'Content-Length: ' . filesize( $path ) );
		header( 'X-Content-Type-Options: nosniff' );
		readfile( $path ); // phpcs:ignore WordPress.WP.AlternativeFunctions
		exit;
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
		$removed = self::delete_archives( null );
		$dir     = wp_privacy_exports_dir() . self::FOLDER;
		foreach ( array( 'index.php', '.htaccess' ) as $file ) {
			if ( is_file( $dir . $file ) ) {
				wp_delete_file( $dir . $file );
			}
		}
		if ( is_dir( $dir ) ) {
			rmdir( $dir ); // phpcs:ignore WordPress.WP.AlternativeFunctions
		}
		return $removed;
	}

	/**
	 * Deletes the archives last written before a time (all of them for null), in the private
	 * folder and where older versions kept them.
	 *
	 * @param int|null $before Unix time, or null.
	 * @return int How many went.
	 */
	private static function delete_archives( $before ) {
		$removed = 0;
		foreach ( array( wp_privacy_exports_dir() . self::FOLDER, wp_privacy_exports_dir() ) as $dir ) {
			foreach ( (array) glob( $dir . self::PREFIX . '*.zip' ) as $file ) {
				if ( is_file( $file ) && ( null === $before || filemtime( $file ) < $before ) ) {
					$removed += wp_delete_file_from_directory( $file, $dir ) ? 1 : 0;
				}
			}
		}
		return $removed;
	}

	/**
	 * The private folder, created with its guards (no direct access, no listing).
	 *
	 * @return string|WP_Error
	 */
	private static function dir() {
		$dir = wp_privacy_exports_dir() . self::FOLDER;
		if ( ! wp_mkdir_p( $dir ) ) {
			return new WP_Error( 'wpprivsync_export_unwritable', __( 'Could not create the exports folder.', 'wpprivsync' ), array( 'status' => 500 ) );
		}
		foreach ( array( wp_privacy_exports_dir(), $dir ) as $folder ) {
			if ( ! file_exists( $folder . 'index.php' ) ) {
				file_put_contents( $folder . 'index.php', "<?php\n// Silence is golden.\n" ); // phpcs:ignore WordPress.WP.AlternativeFunctions
			}
		}
		if ( ! file_exists( $dir . '.htaccess' ) || self::HTACCESS !== file_get_contents( $dir . '.htaccess' ) ) { // phpcs:ignore WordPress.WP.AlternativeFunctions
			file_put_contents( $dir . '.htaccess', self::HTACCESS ); // phpcs:ignore WordPress.WP.AlternativeFunctions
		}
		return $dir;
	}
}
